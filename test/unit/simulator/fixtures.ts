import type { Clock } from '../../../src/index.js';
import { FleetMetrics } from '../../../src/simulator/metrics.js';

/** A clock whose time only moves when the test says so. */
export function manualClock(start = 0): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => 1_700_000_000_000 + now,
    monotonic: () => now,
    setTimeout: () => 0,
    clearTimeout: () => undefined,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** One simulated agent's activity, replayed into whichever FleetMetrics it belongs to. */
export interface AgentActivity {
  node: string;
  connectMs: number;
  failovers: number[];
  sentPerSecond: number;
  receivedPerSecond: number;
}

/** A deterministic list of agent activities (no randomness: value = f(index)). */
export function activities(n: number): AgentActivity[] {
  const out: AgentActivity[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      node: `node${(i % 3) + 1}`,
      connectMs: 0.4 + ((i * 37) % 250) / 7,
      failovers: i % 4 === 0 ? [900 + ((i * 53) % 4000)] : [],
      sentPerSecond: 1 + (i % 3),
      receivedPerSecond: i % 5 === 0 ? i % 3 : 1 + (i % 3),
    });
  }
  return out;
}

/**
 * Runs the given agents for `seconds` into a fresh FleetMetrics, sampling once per second, exactly as
 * a fleet would. Agents fail over at second 2 (then count on `node9`).
 */
export function runMetrics(agents: readonly AgentActivity[], seconds = 5): FleetMetrics {
  const clock = manualClock();
  const m = new FleetMetrics({ clock, bucketMs: 1000 });
  for (const a of agents) m.recordConnect(a.connectMs);
  for (let s = 1; s <= seconds; s++) {
    clock.advance(1000);
    const perNode: Record<string, number> = {};
    let connected = 0;
    let reconnecting = 0;
    for (const a of agents) {
      m.countEvents({ eventsGenerated: a.sentPerSecond, eventsAccepted: a.sentPerSecond, eventsWritten: a.sentPerSecond });
      m.countReceived(a.receivedPerSecond);
      if (s === 2 && a.failovers.length > 0) {
        reconnecting++;
        continue;
      }
      if (s === 3) for (const f of a.failovers) m.recordReconnect(f, true);
      const node = s > 2 && a.failovers.length > 0 ? 'node9' : a.node;
      perNode[node] = (perNode[node] ?? 0) + 1;
      connected++;
    }
    if (s === 4) m.countEvents({ eventsGenerated: agents.length % 7, eventsRefused: agents.length % 7, eventsDropped: agents.length % 7 });
    m.sample({ connected, reconnecting, perNode });
  }
  m.countLost(m.counters.eventsWritten - m.counters.eventsReceived);
  return m;
}
