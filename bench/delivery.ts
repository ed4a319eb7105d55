/**
 * What `delivery: 'at-least-once'` costs next to `at-most-once` (docs/reliability.md): one agent
 * streams 170-byte events at its buffer rate to a MockManager in the same process, with the default
 * options otherwise (notifyTime 20 s, window 1000 events / 1 MiB, barrier interval = notifyTime).
 * Reported per mode: process CPU per 1000 events (agent and manager share the process, so the ratio
 * is what matters), keepalives sent per 1000 events beyond the regular ones, and the retransmit
 * window's high water, all before `stop()`. Separately: heap bytes per window entry (100 000 entries, events the program
 * no longer holds).
 *
 * Sizes: `AGENTLINK_BENCH_DELIVERY_MS` (default 5000), `AGENTLINK_BENCH_DELIVERY_EPS` (default 500).
 *
 * Run: `npm run bench delivery`.
 *
 * @module
 */
import { AgentClient } from '../src/agent/client.js';
import { RetransmitWindow } from '../src/agent/delivery.js';
import { systemClock } from '../src/clock.js';
import type { DeliveryMode } from '../src/config/options.js';
import { MockManager } from '../src/testing/index.js';
import { envInt, getGc } from './fleet.js';

const KEY = { id: '001', name: 'bench-agent', ip: 'any', key: 'b'.repeat(64) };
const MESSAGE = 'Nov 22 10:00:00 web01 sshd[4242]: Accepted publickey for admin from 10.0.0.8 port 52144 ssh2: RSA SHA256:abcdefghijklmnopqrstuvwxyz0123456789abcdef';

async function stream(delivery: DeliveryMode, ms: number, eps: number): Promise<Record<string, number>> {
  const manager = new MockManager({ keys: [KEY], eventHistory: 0 });
  await manager.start();
  const agent = new AgentClient({
    agent: KEY,
    servers: [manager.address],
    delivery,
    buffer: { eventsPerSecond: eps, queueSize: 10 * eps },
    uname: 'Linux |bench |6.1 |#1 |x86_64',
  });
  await agent.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  // keep the buffer fed: the agent sends at its rate, as a busy collector would
  const feeder = setInterval(() => {
    for (let i = 0; i < eps / 10; i++) agent.send(`${n++} ${MESSAGE}`, '/var/log/auth.log');
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(feeder);
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  const s = agent.stats(); // the steady state, before stop() flushes what is queued
  await agent.stop();
  await manager.close();
  const sent = s.eventsSent;
  const regular = Math.floor(elapsed / agent.options.notifyTime) + 1;
  return {
    events_sent: sent,
    cpu_us_per_1000_events: Math.round(((cpu.user + cpu.system) / sent) * 1000),
    keepalives_extra_per_1000_events: Math.round((s.retransmitWindow.extraKeepalives / sent) * 1000 * 100) / 100,
    keepalives_regular: regular,
    window_high_water_events: s.retransmitWindow.highWaterEvents,
    window_high_water_bytes: s.retransmitWindow.highWaterBytes,
    window_full_stalls: s.retransmitWindow.fullStalls,
  };
}

function heapPerEntry(): number {
  const gc = getGc();
  const entries = 100_000;
  const w = new RetransmitWindow({ maxEvents: entries + 1, maxBytes: 2 ** 32, barrierInterval: 3_600_000 }, { sendBarrier: () => w.barrier(), resume: () => {} }, systemClock);
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < entries; i++) w.written({ queue: '1', location: '/var/log/auth.log', message: `${i} ${MESSAGE}` });
  gc();
  const per = (process.memoryUsage().heapUsed - before) / entries;
  w.clear();
  return Math.round(per);
}

/**
 * Runs both modes and the heap probe.
 *
 * @returns named results: `<mode>.<measure>` and `window_heap_bytes_per_event`.
 */
export async function benchDelivery(): Promise<Record<string, number>> {
  const ms = envInt('AGENTLINK_BENCH_DELIVERY_MS', 5000);
  const eps = envInt('AGENTLINK_BENCH_DELIVERY_EPS', 500);
  const out: Record<string, number> = {};
  const modes: DeliveryMode[] = ['at-most-once', 'at-least-once'];
  const cpu: Record<string, number> = {};
  for (const mode of modes) {
    const r = await stream(mode, ms, eps);
    cpu[mode] = r.cpu_us_per_1000_events!;
    for (const [k, v] of Object.entries(r)) out[`${mode}.${k}`] = v;
  }
  out['cpu_ratio_at_least_once_to_at_most_once_x100'] = Math.round((cpu['at-least-once']! / cpu['at-most-once']!) * 100);
  out['window_heap_bytes_per_event'] = heapPerEntry();
  return out;
}
