/**
 * Soak run (`npm run soak`): a fleet against an embedded cluster for a long time, with a node
 * killed and restarted every few minutes, to catch leaks and accounting drift. It prints the
 * resident memory of this process once a minute and, at the end, whether every event is accounted
 * for (`sent = received + dropped + lost`, lost explained by connections lost in flight).
 *
 * Sizes from the environment: `AGENTLINK_SOAK_AGENTS` (default 2000), `AGENTLINK_SOAK_DURATION`
 * (default 10m), `AGENTLINK_SOAK_EPS` (per agent, default 0.5), `AGENTLINK_SOAK_CHAOS_EVERY`
 * (default 2m). Exit code 1 when the accounting does not hold or memory grew more than 50 % after
 * the first minute.
 *
 * @module
 */
import { parseFlagDuration, parseSimulateArgs } from '../src/simulator/index.js';
import { simulate } from '../src/simulator/run.js';
import type { SimulationChaosStep } from '../src/simulator/run.js';

const agents = process.env.AGENTLINK_SOAK_AGENTS ?? '2000';
const duration = parseFlagDuration(process.env.AGENTLINK_SOAK_DURATION ?? '10m', 'AGENTLINK_SOAK_DURATION');
const every = parseFlagDuration(process.env.AGENTLINK_SOAK_CHAOS_EVERY ?? '2m', 'AGENTLINK_SOAK_CHAOS_EVERY');
const eps = process.env.AGENTLINK_SOAK_EPS ?? '0.5';

// kill a node, restart it a quarter period later, rebalance half a period later; node by node
const chaos: SimulationChaosStep[] = [];
for (let t = every, i = 0; t + every / 2 < duration; t += every, i++) {
  const node = `node${(i % 3) + 1}`;
  chaos.push({ action: 'kill', node, atMs: t });
  chaos.push({ action: 'restart', node, atMs: t + every / 4 });
  chaos.push({ action: 'rebalance', atMs: t + every / 2 });
}

const config = parseSimulateArgs([
  '--agents', agents, '--cluster', '3', '--duration', `${duration}ms`, '--eps', eps,
  '--notify', '10s', '--time-reconnect', '30s', '--strategy', 'backoff', '--ramp', '500/s',
  '--report', 'soak-report.json', '--html', 'soak-report.html', '--quiet',
]);

const rss: number[] = [];
const sampler = setInterval(() => {
  const mb = process.memoryUsage().rss / 1048576;
  rss.push(mb);
  console.log(`[soak] ${rss.length} min: RSS ${mb.toFixed(0)} MiB`);
}, 60_000);
sampler.unref();

const result = await simulate(config, { chaos, rebalance: { chunkDelay: 1000 }, log: (l) => console.log(`[soak] ${l}`) });
clearInterval(sampler);
const r = result.report;
const e = r.events;
const balanced = e.received !== null && e.lost !== null && e.sent === e.received + e.dropped + e.lost;
const explained = (r.lostExplained.unexplained ?? 0) === 0;
const growth = rss.length >= 2 ? rss[rss.length - 1]! / rss[0]! : 1;
console.log(`[soak] agents ${r.agents.connected}/${r.agents.total} connected at the end; reconnects ${r.reconnects.total}, failovers ${r.failover.count}`);
console.log(`[soak] events sent ${e.sent} = received ${e.received} + dropped ${e.dropped} + lost ${e.lost}: ${balanced ? 'yes' : 'NO'}; lost explained: ${explained ? 'yes' : 'NO'}`);
console.log(`[soak] RSS growth after the first minute: ${((growth - 1) * 100).toFixed(1)} %`);
for (const p of result.problems) console.log(`[soak] problem: ${p}`);
console.log(`[soak] report: ${result.reportPath}, ${result.htmlPath}`);
process.exitCode = balanced && explained && growth < 1.5 && result.problems.length === 0 ? 0 : 1;
