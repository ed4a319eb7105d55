import { describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../../src/index.js';
import { MockCluster, FaultProxy, KeyStore, MockManager } from '../../../src/testing/index.js';
import { sleep, useCleanup } from './fixtures.js';
import { RawAgent, STARTUP } from './raw-agent.js';

const cleanup = useCleanup();

/** A clock that remembers every timer not yet fired or cleared. */
function countingClock(): { clock: Clock; live: Set<TimerHandle> } {
  const live = new Set<TimerHandle>();
  const clock: Clock = {
    now: () => Date.now(),
    monotonic: () => performance.now(),
    setTimeout(fn, ms) {
      const h: TimerHandle = setTimeout(() => {
        live.delete(h);
        fn();
      }, ms);
      live.add(h);
      return h;
    },
    clearTimeout(h) {
      if (h === undefined) return;
      clearTimeout(h as ReturnType<typeof setTimeout>);
      live.delete(h);
    },
  };
  return { clock, live };
}

function handles(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (/TCP|UDP|Pipe/.test(r)) out[r] = (out[r] ?? 0) + 1;
  return out;
}

describe('test kit teardown', () => {
  it('leaves no socket, server or timer behind after close(), even with work in flight', async () => {
    const before = handles();
    const { clock, live } = countingClock();
    const keys = new KeyStore();
    const k = keys.generate(4);

    const m = new MockManager({ keys, clock, protocols: ['tcp', 'udp'] });
    cleanup(() => m.close());
    await m.start();
    const proxy = new FaultProxy({ target: { port: m.port }, clock, latencyMs: 200 });
    cleanup(() => proxy.close());
    await proxy.start();
    const cluster = new MockCluster({ nodes: 2, keys, clock });
    cleanup(() => cluster.close());
    await cluster.start();

    // Work in flight: delayed ACKs, a pending request, delayed proxy data, waits and a slow rebalance.
    const a = await RawAgent.tcp(k[0]!, m.port);
    cleanup(() => a.close());
    await a.handshake();
    await m.setFaults({ ackDelayMs: 10_000 });
    a.send(STARTUP);
    const request = m.request(k[0]!.id, 'agent', 'getstate').catch((e: Error) => e);
    const waiting = m.waitForEvents(1, { timeout: 30_000 }).catch((e: Error) => e);
    const b = await RawAgent.tcp(k[1]!, proxy.port);
    cleanup(() => b.close());
    b.send(STARTUP);
    for (const [i, s] of cluster.servers().entries()) {
      for (const key of k.slice(i * 2, i * 2 + 2)) {
        const c = await RawAgent.tcp(key, cluster.servers()[0]!.port);
        cleanup(() => c.close());
        await c.handshake();
      }
      void s;
    }
    const rebalance = cluster.rebalance({ chunkSize: 1, chunkDelay: 60_000 }).catch((e: Error) => e);
    const clusterWait = cluster.waitForAgents(100, { timeout: 60_000 }).catch((e: Error) => e);
    await sleep(50);
    expect(live.size).toBeGreaterThan(3);

    await Promise.all([m.close(), proxy.close(), cluster.close()]);
    expect(await request).toMatchObject({ code: 'ERR_REQUEST' });
    expect(await waiting).toMatchObject({ code: 'ERR_CLOSED' });
    expect(await clusterWait).toMatchObject({ code: 'ERR_CLOSED' });
    expect(await rebalance).toMatchObject({ code: 'ERR_CLOSED' });
    for (const x of [a, b]) x.close();
    await sleep(50);
    expect(live.size).toBe(0);
    const after = handles();
    for (const [type, n] of Object.entries(after)) expect(n, type).toBeLessThanOrEqual(before[type] ?? 0);
  });
});
