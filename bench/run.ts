/**
 * Benchmark runner: `npm run bench` (builds, then runs `dist/bench/run.js`). Each entry of BENCHES
 * is an imported bench function returning named numbers; the runner prints one table per bench.
 * Pass bench names as arguments to run only those.
 *
 * @module
 */
import { loadavg } from 'node:os';
import { benchCodec } from './codec.js';
import { benchE2e } from './e2e.js';
import { benchDelivery } from './delivery.js';
import { benchFleet } from './fleet.js';

/** A benchmark: a name and a function returning named results. */
export interface BenchEntry {
  /** Short name, used to select it on the command line. */
  name: string;
  /** Runs the benchmark. */
  run: () => Promise<Record<string, number>>;
}

/** The benchmarks, in run order. Add new ones here. */
export const BENCHES: BenchEntry[] = [
  { name: 'codec', run: () => benchCodec() },
  { name: 'e2e', run: () => benchE2e() },
  { name: 'fleet', run: () => benchFleet() },
  { name: 'delivery', run: () => benchDelivery() },
];

function printTable(title: string, results: Record<string, number>): void {
  const rows = Object.entries(results);
  const w = Math.max(...rows.map(([k]) => k.length), title.length);
  console.log(`\n${title}`);
  console.log(`${'-'.repeat(w)}  ${'-'.repeat(14)}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v.toLocaleString('en-US').padStart(14)}`);
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const t0 = performance.now();
  console.log(`node ${process.version}, ${process.platform}/${process.arch}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const b of BENCHES) {
    if (only.length > 0 && !only.includes(b.name)) continue;
    const t = performance.now();
    printTable(b.name, await b.run());
    console.log(`(${b.name}: ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  }
  console.log(`\nwall time ${((performance.now() - t0) / 1000).toFixed(1)} s, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
