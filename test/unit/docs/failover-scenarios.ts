/**
 * The failover scenarios docs/failover.md describes, run on the real AgentClient over the in-memory
 * network with fake timers: three managers A, B, C; the agent connected to A at t = 0 (its first
 * keepalive ACKed at t = 0); a fault at t = 0; everything the agent does is recorded with its time.
 * Call with fake timers on (`vi.useFakeTimers({ now: 0 })`).
 */
import { vi } from 'vitest';
import { AgentClient, FORCE_RECONNECT_MESSAGE } from '../../../src/index.js';
import type { AgentClientOptions, TransportFactory } from '../../../src/index.js';
import { MockManager, createMemoryNetwork } from '../../../src/testing/index.js';

const KEY = { id: '001', name: 'agent1', ip: 'any', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };

/** One thing that happened, `t` in milliseconds after the fault. */
export interface TimelineEntry {
  /** Milliseconds after the fault. */
  t: number;
  /** `attempt` (a connection attempt), an AgentClient event name, or `error`. */
  kind: string;
  /** For `attempt`: 1-based number since the fault. */
  attempt?: number;
  /** The server involved (`A`, `B`, `C`), when there is one. */
  server?: string;
  /** The error code (`error`, `disconnected`). */
  code?: string;
  /** The delay of `reconnectScheduled`. */
  delay?: number;
}

/** A scenario: options, the fault to apply at t = 0, and how long to watch. */
export interface Scenario {
  /** Options besides identity and servers. */
  options: Partial<AgentClientOptions>;
  /** Applies the fault at t = 0. */
  fault: (ctx: { managers: Record<'A' | 'B' | 'C', MockManager>; network: ReturnType<typeof createMemoryNetwork> }) => void;
  /** How long to run after the fault, in milliseconds. */
  runMs: number;
  /** Random source for jitter (fixed so the run repeats). */
  random?: () => number;
}

const hung = (m: MockManager): void => {
  void m.setFaults({ withholdAcks: true }); // accepts and reads, never answers: a hung remoted
};

/** The manager dies: its port refuses, and the agent's connection is reset. */
const dies = (...ms: MockManager[]): void => {
  for (const m of ms) void m.setFaults({ refuseConnections: true });
  ms[0]!.disconnectAgents([KEY.id]);
};

/** Every scenario docs/failover.md shows a timeline of, by the id in its `<!-- timeline: id -->` marker. */
export const SCENARIOS: Record<string, Scenario> = {
  'wazuh-dies': {
    options: {},
    fault: ({ managers }) => dies(managers.A),
    runMs: 60_000,
  },
  'wazuh-hung': {
    options: {},
    fault: ({ managers }) => hung(managers.A),
    runMs: 420_000,
  },
  'wazuh-hung-tuned': {
    options: { handshakeTimeout: 10_000 },
    fault: ({ managers }) => hung(managers.A),
    runMs: 170_000,
  },
  'wazuh-unreachable': {
    options: {},
    fault: ({ network }) => network.setUnreachable('A', 1514, 'blackhole'),
    runMs: 170_000,
  },
  'wazuh-force': {
    options: {},
    fault: ({ managers }) => managers.A.send(KEY.id, FORCE_RECONNECT_MESSAGE),
    runMs: 5_000,
  },
  'backoff-dies': {
    options: { reconnect: { strategy: 'backoff' } },
    fault: ({ managers }) => dies(managers.A),
    runMs: 5_000,
    random: () => 0.5,
  },
  'backoff-all-down': {
    options: { reconnect: { strategy: 'backoff' } },
    fault: ({ managers }) => dies(managers.A, managers.B, managers.C),
    runMs: 9_000,
    random: () => 0.5,
  },
  'backoff-hung': {
    options: { reconnect: { strategy: 'backoff' } },
    fault: ({ managers }) => hung(managers.A),
    runMs: 130_000,
    random: () => 0.5,
  },
  'backoff-force': {
    options: { reconnect: { strategy: 'backoff' } },
    fault: ({ managers }) => managers.A.send(KEY.id, FORCE_RECONNECT_MESSAGE),
    runMs: 5_000,
    random: () => 0.5,
  },
};

/**
 * Runs one scenario.
 *
 * @param scenario - the scenario.
 * @returns what happened after the fault, in time order.
 */
export async function runScenario(scenario: Scenario): Promise<TimelineEntry[]> {
  const network = createMemoryNetwork();
  const manager = async (host: string): Promise<MockManager> => {
    const m = new MockManager({ keys: [KEY], host, port: 1514, listener: network.listenerFactory });
    await m.start();
    return m;
  };
  const managers = { A: await manager('A'), B: await manager('B'), C: await manager('C') };
  const log: TimelineEntry[] = [];
  let t0 = 0;
  let attempts = 0;
  let watching = false;
  const now = (): number => Date.now() - t0;
  const factory: TransportFactory = (target, options) => {
    if (watching) log.push({ t: now(), kind: 'attempt', attempt: ++attempts, server: target.address });
    return network.factory(target, options);
  };
  const agent = new AgentClient(
    {
      agent: KEY,
      servers: ['A', 'B', 'C'].map((address) => ({ address })),
      uname: 'Linux |test |6.1 |#1 |x86_64',
      ...scenario.options,
    },
    { transport: factory, ...(scenario.random ? { random: scenario.random } : {}) },
  );
  agent.on('error', (e) => watching && log.push({ t: now(), kind: 'error', code: e.code }));
  agent.on('disconnected', ({ server, reason }) => log.push({ t: now(), kind: 'disconnected', server: server.address, code: reason.code }));
  agent.on('connected', ({ server }) => watching && log.push({ t: now(), kind: 'connected', server: server.address }));
  agent.on('failover', ({ from, to }) => log.push({ t: now(), kind: 'failover', server: `${from.address}->${to.address}` }));
  agent.on('reconnectScheduled', ({ server, delay }) => log.push({ t: now(), kind: 'reconnectScheduled', server: server.address, delay }));
  agent.on('forceReconnect', () => log.push({ t: now(), kind: 'forceReconnect' }));
  await agent.start();
  await vi.advanceTimersByTimeAsync(0); // the first keepalive and its ACK
  t0 = Date.now();
  watching = true;
  scenario.fault({ managers, network });
  await vi.advanceTimersByTimeAsync(scenario.runMs);
  watching = false;
  await agent.stop({ drainTimeout: 0 });
  await Promise.all(Object.values(managers).map((m) => m.close()));
  return log;
}
