import { describe, expect, it } from 'vitest';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import { useCleanup } from './fixtures.js';
import { ACK, KEEPALIVE, RawAgent } from './raw-agent.js';

const cleanup = useCleanup();

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

describe('MockManager soak', () => {
  it('serves 500 agents at once: every startup and keepalive is ACKed (latency reported, not asserted)', async () => {
    const keys = new KeyStore();
    const k = keys.generate(500);
    const m = new MockManager({ keys });
    cleanup(() => m.close());
    await m.start();
    const agents: RawAgent[] = [];
    for (const key of k) {
      const a = new RawAgent(key);
      cleanup(() => a.close());
      await a.connect(m.port);
      agents.push(a);
    }
    const rtts: number[] = [];
    const round = async (msg: string): Promise<void> => {
      await Promise.all(
        agents.map(async (a) => {
          const t0 = performance.now();
          a.send(msg);
          const r = await a.next(10_000);
          expect(r.text).toBe(ACK);
          rtts.push(r.at - t0);
        }),
      );
    };
    await round('#!-agent startup {"version":"v4.14.7"}');
    for (let i = 0; i < 5; i++) {
      await round(KEEPALIVE);
      await Promise.all(agents.map(async (a) => a.send(`1:/var/log/app.log:event ${i} from ${a.key.name}`)));
    }
    await m.waitForAgents(500, { timeout: 10_000 });
    await m.waitForEvents(2500, { timeout: 10_000 });
    const sorted = [...rtts].sort((a, b) => a - b);
    const s = m.stats();
    console.log(
      `soak: 500 agents, ${rtts.length} ACKs in rounds of 500 simultaneous messages (client encoding included); ACK latency p50 ${percentile(sorted, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${sorted.at(-1)!.toFixed(2)} ms; ${s.eventsReceived} events; ` +
        `rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(rtts).toHaveLength(3000);
    expect(s.eventsReceived).toBe(2500);
    expect(s.connectedAgents).toBe(500);
    expect(s.decodeErrors).toBe(0);
  }, 60_000);
});
