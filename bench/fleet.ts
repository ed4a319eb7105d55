/**
 * Fleet budgets (DESIGN.md "Budgets"): how many agents one Node process holds connected with
 * keepalives at notifyTime 20 s, resident memory per agent, CPU per 1000 idle agents, the connect
 * ramp rate reached, and end-to-end events per second per core.
 *
 * The mock cluster runs in a process of its own (so both sides have their own open-file limit),
 * and the agents spread their source addresses over 127.0.0.0/8. Sizes come from the environment:
 * `AGENTLINK_BENCH_AGENTS` (default 10000; RSS per agent is not the same at 5000: the process's
 * fixed costs weigh more), `AGENTLINK_BENCH_IDLE_MS` (default 5000: a quarter of a keepalive period,
 * 2500 keepalives at 10 000 agents),
 * `AGENTLINK_BENCH_EPS_AGENTS` (default 200), `AGENTLINK_BENCH_EPS` (events per second per agent,
 * default 100), `AGENTLINK_BENCH_EPS_MS` (default 3000).
 *
 * Run: `npm run bench fleet` (after `npm run build`: the cluster process runs from dist/).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { Fleet } from '../src/simulator/fleet.js';
import { exposedGc } from './gc.js';
import { startEmbeddedCluster } from '../src/simulator/cluster-host.js';
import { simulatedIdentities } from '../src/simulator/identities.js';

/** Options of {@link benchFleet}; each defaults to its environment variable, then to the budget's size. */
export interface BenchFleetOptions {
  /** Agents held connected. @default AGENTLINK_BENCH_AGENTS or 10000 */
  agents?: number;
  /** Idle window for the CPU measurement, in milliseconds. @default AGENTLINK_BENCH_IDLE_MS or 5000 */
  idleMs?: number;
  /** Agents of the throughput measurement. @default AGENTLINK_BENCH_EPS_AGENTS or 200 */
  epsAgents?: number;
  /** Throughput window, in milliseconds. @default AGENTLINK_BENCH_EPS_MS or 3000 */
  epsMs?: number;
  /** Events per second per agent of the throughput measurement. @default AGENTLINK_BENCH_EPS or 100 */
  epsPerAgent?: number;
  /** Source addresses to spread over. @default 4 */
  sourceAddresses?: number;
}

/**
 * @param name - environment variable.
 * @param fallback - value when unset or not a positive number.
 * @returns the variable as a positive integer, or the fallback.
 */
export function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

/**
 * @returns `gc()` (exposed at run time when node runs without `--expose-gc`); a no-op when V8 refuses.
 */
export function getGc(): () => void {
  return exposedGc() ?? (() => undefined);
}

/** CPU seconds (user + system) of another process, from /proc; undefined where /proc is missing. */
function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after the command: state(0) ... utime(11) stime(12), in clock ticks (100 Hz on Linux)
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Runs the fleet benchmark and prints progress lines on stderr.
 *
 * @param options - sizes (environment variables by default).
 * @returns the measured numbers.
 */
export async function benchFleet(options: BenchFleetOptions = {}): Promise<Record<string, number>> {
  const agents = options.agents ?? envInt('AGENTLINK_BENCH_AGENTS', 10_000);
  const idleMs = options.idleMs ?? envInt('AGENTLINK_BENCH_IDLE_MS', 5000);
  const epsAgents = options.epsAgents ?? envInt('AGENTLINK_BENCH_EPS_AGENTS', 200);
  const epsMs = options.epsMs ?? envInt('AGENTLINK_BENCH_EPS_MS', 3000);
  const epsPerAgent = options.epsPerAgent ?? envInt('AGENTLINK_BENCH_EPS', 100);
  const sourceAddresses = options.sourceAddresses ?? 4;
  const gc = getGc();
  const note = (s: string): void => void process.stderr.write(`[fleet bench] ${s}\n`);
  const out: Record<string, number> = {};

  // --- 1. hold `agents` connected at notifyTime 20 s ---------------------------------------------
  const indexes = Array.from({ length: agents }, (_, i) => i);
  const keys = simulatedIdentities(indexes, 'bench');
  const cluster = await startEmbeddedCluster({ nodes: 2, keys, forked: true });
  try {
    gc();
    await sleep(200);
    gc();
    const rssBefore = process.memoryUsage().rss;
    const { heapUsed: heapBefore, heapTotal: heapTotalBefore, external: externalBefore } = process.memoryUsage();
    const fleet = new Fleet({
      indexes,
      identities: keys,
      servers: cluster.servers,
      client: { notifyTime: 20_000, timeReconnect: 60_000, connectTimeout: 30_000 },
      rampPerSecond: 0, // as fast as the process can: the rate reached is the measurement
      eps: 0,
      sourceAddresses,
    });
    const began = performance.now();
    fleet.start();
    let connected = 0;
    try {
      await fleet.waitForConnected(agents, 120_000);
      connected = agents;
    } catch {
      connected = fleet.progress().connected;
    }
    const rampSeconds = (performance.now() - began) / 1000;
    note(`${connected}/${agents} connected in ${rampSeconds.toFixed(2)} s`);
    out.agentsConnected = connected;
    out.rampAgentsPerSec = Math.round(connected / rampSeconds);
    out.connectP50Ms = fleet.metrics.histograms.connect.percentile(50);
    out.connectP99Ms = fleet.metrics.histograms.connect.percentile(99);

    await sleep(2000);
    gc();
    await sleep(200);
    gc();
    const mem = process.memoryUsage();
    const perAgentKB = (bytes: number): number => Math.round((bytes / connected / 1024) * 10) / 10;
    out.rssPerAgentKB = perAgentKB(mem.rss - rssBefore);
    out.heapUsedPerAgentKB = perAgentKB(mem.heapUsed - heapBefore);
    out.heapTotalPerAgentKB = perAgentKB(mem.heapTotal - heapTotalBefore);
    out.externalPerAgentKB = perAgentKB(mem.external - externalBefore);
    note(`RSS ${(mem.rss / 1048576).toFixed(0)} MiB, ${out.rssPerAgentKB} KB per agent`);

    // --- 2. CPU of idle agents (keepalives only) over the window --------------------------------
    const cpu0 = cpuSeconds();
    const t0 = performance.now();
    await sleep(idleMs);
    const cpu = cpuSeconds() - cpu0;
    const wall = (performance.now() - t0) / 1000;
    // percent of one core per 1000 agents
    out.idleCpuPercentPer1000 = Math.round(((cpu / wall) * 100 * 1000 * 100) / connected) / 100;
    out.idleAgentsStillConnected = fleet.progress().connected;
    note(`idle ${wall.toFixed(1)} s: ${((cpu / wall) * 100).toFixed(2)} % of a core for ${connected} agents`);
    await fleet.stop({ drainTimeout: 0 });
  } finally {
    await cluster.close();
  }

  // --- 3. end-to-end events per second per core -------------------------------------------------
  const eIdx = Array.from({ length: epsAgents }, (_, i) => i);
  const eKeys = simulatedIdentities(eIdx, 'bench-eps');
  const eCluster = await startEmbeddedCluster({ nodes: 2, keys: eKeys, forked: true });
  try {
    const fleet = new Fleet({
      indexes: eIdx,
      identities: eKeys,
      servers: eCluster.servers,
      client: { notifyTime: 20_000, buffer: { eventsPerSecond: 1000, queueSize: 20_000 } },
      rampPerSecond: 0,
      // an offered load below saturation: the cost per event is CPU seconds over events received
      eps: epsPerAgent,
      workload: 'syslog',
    });
    fleet.start();
    await fleet.waitForConnected(epsAgents, 60_000);
    await sleep(1000);
    const r0 = await eCluster.received();
    const c0 = cpuSeconds();
    const k0 = processCpuSeconds(eCluster.pid);
    const t0 = performance.now();
    await sleep(epsMs);
    const r1 = await eCluster.received();
    const wall = (performance.now() - t0) / 1000;
    const agentCpu = cpuSeconds() - c0;
    const k1 = processCpuSeconds(eCluster.pid);
    const clusterCpu = k0 !== undefined && k1 !== undefined ? k1 - k0 : 0;
    const eps = (r1 - r0) / wall;
    out.eventsOfferedPerSec = epsAgents * epsPerAgent;
    out.eventsPerSec = Math.round(eps);
    out.eventsDroppedInRun = fleet.progress().eventsDropped;
    out.eventsPerSecPerCore = Math.round((r1 - r0) / Math.max(0.001, agentCpu + clusterCpu));
    out.eventsPerSecPerAgentCore = Math.round((r1 - r0) / Math.max(0.001, agentCpu));
    note(`${Math.round(eps)} events/s; agent side ${(agentCpu / wall * 100).toFixed(0)} % CPU, manager side ${(clusterCpu / wall * 100).toFixed(0)} % CPU`);
    await fleet.stop({ drainTimeout: 0 });
  } finally {
    await eCluster.close();
  }
  return out;
}

// run directly: node dist/bench/fleet.js
if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchFleet();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(28)} ${v}`);
}
