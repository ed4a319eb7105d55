/**
 * Chaos soak and thundering herd (`npm run soak`; minutes, not part of `npm test`).
 *
 * 1. Thundering herd: 1000 agents on node1 of a 3-node mock cluster, node1 killed, connections
 *    accepted by node2 and node3 counted per 100 ms until every agent is back; for the `backoff`
 *    strategy (initial delay 5 s) and the `wazuh` strategy (retry interval 5 s, one retry), each
 *    without and with full jitter. Prints the curves.
 * 2. Chaos soak: 1000 agents at 1 event per second against 3 mock managers, each behind a FaultProxy,
 *    under seeded random faults for the whole run (node kills and restarts, node hangs, proxy
 *    blackholes, latency spikes of 200 to 800 ms, resets, frames cut in the middle, forced
 *    reconnects); then the faults are cleared, the fleet settles, drains and stops, and the run
 *    checks every agent connected, every event accounted for per agent, no handle or timer left,
 *    and reports the memory trend. It runs once per delivery mode (`at-most-once`, then
 *    `at-least-once`, which must lose nothing), unless `--delivery` names one.
 *
 * Sizes from flags or the environment: `--agents` / `AGENTLINK_SOAK_AGENTS` (1000), `--duration` /
 * `AGENTLINK_SOAK_DURATION` (5m), `--seed` / `AGENTLINK_SOAK_SEED`, `--eps` / `AGENTLINK_SOAK_EPS` (1),
 * `--nodes` (3), `--delivery both|at-most-once|at-least-once` (both), `--herd-agents` (1000), `--no-herd`, `--herd-only`, `--no-gc`, `--keep-blackholed`
 * (connections that lived through a blackhole or hang are kept, not reset: shows why they must be), `--report`
 * (`.tmp/soak-report.json`). Ctrl-C ends the chaos early and still runs the checks. Exit code 1 when
 * a check fails.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { DeliveryMode } from 'agentlink';
import { parseFlagDuration } from 'agentlink/simulator';
import { measureThunderingHerd, renderHerdCurve } from './reliability/herd.js';
import type { HerdOptions, HerdResult } from './reliability/herd.js';
import { runChaosSoak } from './reliability/soak.js';
import type { ChaosSoakReport } from './reliability/soak.js';

const { values: flags } = parseArgs({
  options: {
    agents: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
    eps: { type: 'string' },
    nodes: { type: 'string' },
    delivery: { type: 'string' },
    'herd-agents': { type: 'string' },
    'no-herd': { type: 'boolean', default: false },
    'herd-only': { type: 'boolean', default: false },
    'no-gc': { type: 'boolean', default: false },
    'keep-blackholed': { type: 'boolean', default: false },
    report: { type: 'string' },
  },
  strict: true,
});

function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`${what} must be a positive integer, got '${text}'`);
    process.exit(2);
  }
  return n;
}

const agents = positiveInt(flags.agents ?? process.env.AGENTLINK_SOAK_AGENTS ?? '1000', '--agents / AGENTLINK_SOAK_AGENTS');
const durationMs = parseFlagDuration(flags.duration ?? process.env.AGENTLINK_SOAK_DURATION ?? '5m', '--duration / AGENTLINK_SOAK_DURATION');
const seed = flags.seed ?? process.env.AGENTLINK_SOAK_SEED ?? 'agentlink-soak';
const eps = Number(flags.eps ?? process.env.AGENTLINK_SOAK_EPS ?? '1');
const nodes = positiveInt(flags.nodes ?? '3', '--nodes');
const herdAgents = positiveInt(flags['herd-agents'] ?? '1000', '--herd-agents');
const reportPath = resolve(flags.report ?? '.tmp/soak-report.json');
const deliveryFlag = flags.delivery ?? 'both';
if (!['both', 'at-most-once', 'at-least-once'].includes(deliveryFlag)) {
  console.error(`--delivery must be both, at-most-once or at-least-once, got '${deliveryFlag}'`);
  process.exit(2);
}
const deliveries: DeliveryMode[] = deliveryFlag === 'both' ? ['at-most-once', 'at-least-once'] : [deliveryFlag as DeliveryMode];
if (!(eps >= 0) || !Number.isFinite(eps)) {
  console.error(`--eps / AGENTLINK_SOAK_EPS must be a number of events per second, got '${String(flags.eps ?? process.env.AGENTLINK_SOAK_EPS)}'`);
  process.exit(2);
}

const say = (line: string): void => console.log(`[soak] ${line}`);

function table(title: string, rows: [string, string | number][]): void {
  const w = Math.max(title.length, ...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  console.log(`${'-'.repeat(w)}  ${'-'.repeat(24)}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${typeof v === 'number' ? v.toLocaleString('en-US') : v}`);
}

const ms = (v: number): string => `${Math.round(v).toLocaleString('en-US')} ms`;

// --- thundering herd -------------------------------------------------------------------------

interface HerdSection {
  results: HerdResult[];
  checks: { name: string; ok: boolean; detail: string }[];
}

async function herd(): Promise<HerdSection> {
  const D = 5000;
  const configs: HerdOptions[] = [
    { agents: herdAgents, reconnect: { strategy: 'backoff', initialDelay: D, jitter: 0 } },
    { agents: herdAgents, reconnect: { strategy: 'backoff', initialDelay: D, jitter: 1 } },
    { agents: herdAgents, reconnect: { strategy: 'wazuh', jitter: 0 }, retryInterval: D, maxRetries: 1 },
    { agents: herdAgents, reconnect: { strategy: 'wazuh', jitter: 1 }, retryInterval: D, maxRetries: 1 },
  ];
  const results: HerdResult[] = [];
  for (const c of configs) {
    say(`herd: ${herdAgents} agents, ${c.reconnect.strategy} jitter ${c.reconnect.jitter}`);
    const r = await measureThunderingHerd(c);
    results.push(r);
    console.log(`\n${r.label}: ${r.accepted} connections accepted by the surviving nodes, every agent back after ${r.recoveredMs === null ? 'NOT within the deadline' : ms(r.recoveredMs)}`);
    console.log(`peak ${r.peakPerBucket} per 100 ms, ${r.peakPerSecond} per second${r.theoryPerSecond !== null ? ` (theory ${r.theoryPerSecond}/s)` : ''}; reconnect p50 ${ms(r.reconnect.p50Ms)}, p99 ${ms(r.reconnect.p99Ms)}`);
    console.log(`planned (the schedule, what the policy asked for): peak ${r.planned.peakPerBucket} per 100 ms, ${r.planned.peakPerSecond} per second; ${r.retriedOnSurvivors} agents retried on a surviving node`);
    for (const line of renderHerdCurve(r, 25)) console.log(`  ${line}`);
  }
  const checks: HerdSection['checks'] = [];
  for (let i = 0; i < results.length; i += 2) {
    const flat = results[i]!;
    const spread = results[i + 1]!;
    checks.push({
      name: `${spread.label}: peak bucket < 50 % of no jitter`,
      ok: spread.peakPerBucket < flat.peakPerBucket * 0.5,
      detail: `${spread.peakPerBucket} vs ${flat.peakPerBucket} (${((spread.peakPerBucket / Math.max(1, flat.peakPerBucket)) * 100).toFixed(0)} %)`,
    });
    if (spread.theoryPerSecond !== null) {
      checks.push({
        name: `${spread.label}: peak second <= 2 x theory`,
        ok: spread.peakPerSecond <= 2 * spread.theoryPerSecond,
        detail: `${spread.peakPerSecond}/s vs theory ${spread.theoryPerSecond}/s (${(spread.peakPerSecond / spread.theoryPerSecond).toFixed(2)} x)`,
      });
    }
    for (const r of [flat, spread]) checks.push({ name: `${r.label}: every agent back`, ok: r.recoveredMs !== null, detail: r.recoveredMs === null ? 'no' : ms(r.recoveredMs) });
  }
  table(
    `thundering herd: ${herdAgents} agents, node1 killed`,
    results.map((r) => [
      r.label,
      `peak ${r.peakPerBucket}/100ms, ${r.peakPerSecond}/s${r.theoryPerSecond !== null ? ` (N/D ${r.theoryPerSecond}/s)` : ''}, back in ${r.recoveredMs === null ? '-' : ms(r.recoveredMs)}, reconnect p50/p99 ${ms(r.reconnect.p50Ms)}/${ms(r.reconnect.p99Ms)}`,
    ]),
  );
  return { results, checks };
}

// --- soak ------------------------------------------------------------------------------------

function printSoak(r: ChaosSoakReport): void {
  const e = r.events;
  const drops = Object.entries(e.droppedByReason)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const faults = Object.entries(r.chaos.done)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const res = (m: Record<string, number>): string =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  table(`chaos soak, ${r.settings.delivery}: ${r.settings.agents} agents, ${r.settings.nodes} nodes behind FaultProxies, ${(r.settings.durationMs / 1000).toFixed(0)} s, seed ${r.settings.seed}`, [
    ['machine', `${r.machine.platform}, ${r.machine.cpus} CPUs, node ${r.machine.node}`],
    ['faults', `${r.chaos.log.length} (${faults}); skipped ${r.chaos.skipped}, failed ${r.chaos.failed}`],
    ['connected at the end', `${r.agents.connectedAtEnd} / ${r.agents.total} (managers: ${r.agents.connectedOnManagers})`],
    ['settle after the chaos', r.timing.settleMs === null ? 'NOT all back' : ms(r.timing.settleMs)],
    ['events generated', e.generated],
    ['received', e.received],
    ['dropped (counted)', `${e.dropped} (${drops})`],
    ['lost in flight', e.lost],
    ['unconfirmed (bound)', e.unconfirmed],
    ['generated = received + dropped + lost', e.balanced ? 'yes' : 'NO'],
    ['agents with unexplained loss', `${e.agentsUnexplained} (${e.unexplained} events)`],
    ['out of order', e.outOfOrder],
    ['duplicates / retransmitted', `${e.duplicates} / ${e.retransmitted}`],
    ['extra keepalives, window high water', `${e.extraKeepalives}, ${e.windowHighWater} events`],
    ['reconnects', r.reconnects.total],
    ['failovers', r.reconnects.failovers],
    ['failed attempts', r.reconnects.connectFailures],
    ['reconnect p50 / p99', `${ms(r.reconnects.reconnect.p50Ms)} / ${ms(r.reconnects.reconnect.p99Ms)}`],
    ['failover p50 / p99', `${ms(r.reconnects.failover.p50Ms)} / ${ms(r.reconnects.failover.p99Ms)}`],
    ['heap (after GC: ' + (r.memory.gcForced ? 'yes' : 'no') + ')', `${r.memory.heapFirstMB} -> ${r.memory.heapLastMB} MB, slope ${r.memory.heapSlopeKBPerMin} KB/min`],
    ['heap slope, second half', `${r.memory.heapSlopeLastHalfKBPerMin} KB/min`],
    ['RSS', `${r.memory.rssFirstMB} -> ${r.memory.rssLastMB} MB, slope ${r.memory.rssSlopeKBPerMin} KB/min`],
    ['RSS slope, second half', `${r.memory.rssSlopeLastHalfKBPerMin} KB/min`],
    ['external (Buffers) slope', `${r.memory.externalSlopeKBPerMin} KB/min`],
    ['memory samples', `${r.memory.samples.length} (every 5 s after the warm-up)`],
    ['handles before', res(r.resources.before)],
    ['handles after teardown', res(r.resources.after)],
    ['leaked handles / pending timers', `${res(r.resources.leaked)} / ${r.resources.pendingTimers}`],
    ...r.resources.sockets.map((line): [string, string] => ['  open socket', line]),
    ['result', r.ok ? 'ok' : `FAILED: ${r.problems.join('; ')}`],
  ]);
}

async function main(): Promise<number> {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
  let herdSection: HerdSection | undefined;
  if (!flags['no-herd']) herdSection = await herd();
  const soak: Partial<Record<DeliveryMode, ChaosSoakReport>> = {};
  if (!flags['herd-only']) {
    const abort = new AbortController();
    const onSigint = (): void => {
      say('interrupted: stopping the chaos, then checking');
      abort.abort();
    };
    process.once('SIGINT', onSigint);
    for (const delivery of deliveries) {
      if (abort.signal.aborted) break;
      say(`chaos soak, ${delivery}: ${agents} agents, ${nodes} nodes, ${(durationMs / 1000).toFixed(0)} s, ${eps} events/s per agent, seed ${seed}`);
      const r = await runChaosSoak({ agents, nodes, durationMs, eps, seed, delivery, forceGc: !flags['no-gc'], resetAfterBlackhole: !flags['keep-blackholed'], log: say, signal: abort.signal });
      soak[delivery] = r;
      printSoak(r);
    }
    process.off('SIGINT', onSigint);
    if (deliveries.length > 1) {
      table(
        'delivery modes',
        deliveries.flatMap((d): [string, string][] => {
          const e = soak[d]?.events;
          return e ? [[d, `generated ${e.generated}, lost ${e.lost} (unconfirmed bound ${e.unconfirmed}), duplicates ${e.duplicates} / retransmitted ${e.retransmitted}, extra keepalives ${e.extraKeepalives}, ${soak[d]!.ok ? 'ok' : 'FAILED'}`]] : [];
        }),
      );
    }
  }
  if (herdSection) {
    table(
      'herd checks',
      herdSection.checks.map((c) => [c.name, `${c.ok ? 'ok' : 'FAILED'}: ${c.detail}`]),
    );
  }
  await mkdir(dirname(reportPath), { recursive: true });
  await writeFile(reportPath, `${JSON.stringify({ herd: herdSection, soak }, null, 2)}\n`);
  console.log(`\nreport: ${reportPath}`);
  const herdOk = herdSection?.checks.every((c) => c.ok) ?? true;
  return herdOk && Object.values(soak).every((r) => r.ok) ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  // a run that cannot go on (no fleet connected within the deadline, a port in use) ends with its
  // reason in one line and exit code 1, not a stack trace (AGENTLINK_DEBUG=1 shows the stack)
  const e = err as Error & { code?: string };
  console.error(`[soak] FAILED: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  if (process.env.AGENTLINK_DEBUG) console.error(e.stack);
  process.exitCode = 1;
}
