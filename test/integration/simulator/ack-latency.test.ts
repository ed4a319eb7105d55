/**
 * The fleet's keepalive→ACK latency counts from the time each keepalive was due, and pairs each ACK
 * with the keepalive it answers: a manager that ACKs 400 ms late while the agents send a keepalive
 * every 250 ms shows 400 ms, not the 150 ms since the latest keepalive.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeyStore, MockManager } from 'agentlink/testing';
import { FleetMetrics } from 'agentlink/simulator';
import { Fleet } from '../../../src/simulator/fleet.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Fleet ackLatency', () => {
  it('measures a slow manager from the keepalives’ due times', async () => {
    const keys = new KeyStore();
    const list = keys.generate(4, { namePrefix: 'ack' });
    const manager = new MockManager({ keys, eventHistory: 0 });
    cleanups.push(() => manager.close());
    await manager.start();
    manager.setFaults({ ackDelayMs: 400 });
    const metrics = new FleetMetrics();
    const fleet = new Fleet({
      indexes: list.map((_, i) => i),
      identities: list,
      servers: [{ address: '127.0.0.1', port: manager.port, node: 'm' }],
      client: { notifyTime: 250, timeReconnect: 5000 },
      rampPerSecond: 0,
      eps: 0,
      metrics,
    });
    cleanups.push(() => fleet.stop({ drainTimeout: 0 }));
    fleet.start();
    await fleet.waitForConnected(4, 10_000);
    const deadline = Date.now() + 10_000;
    while (metrics.histograms.ackLatency.count < 16 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const s = metrics.histograms.ackLatency.summary();
    expect(s.count).toBeGreaterThanOrEqual(16);
    expect(s.minMs).toBeGreaterThanOrEqual(399);
  }, 30_000);
});
