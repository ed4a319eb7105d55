/**
 * The MockManager's connection events and debug lines: what a listener or a debug-level logger gets
 * (the manager builds them only when someone takes them).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../src/index.js';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import type { PeerInfo } from '../../../src/testing/index.js';
import { until } from './fixtures.js';
import { RawAgent } from './raw-agent.js';

const closers: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** Starts a manager with this logger, runs one raw agent's handshake on it, then closes the agent. */
async function oneAgent(logger: Logger, onStarted: (m: MockManager) => void = () => undefined): Promise<MockManager> {
  const keys = new KeyStore();
  const [key] = keys.generate(1);
  const m = new MockManager({ keys, logger });
  closers.push(() => m.close());
  await m.start();
  onStarted(m);
  const a = await RawAgent.tcp(key!, m.port);
  closers.push(() => a.close());
  await a.activate();
  await m.waitForAgents(1);
  a.close();
  await until(() => m.agent(key!.id)?.connected === false);
  return m;
}

/** A logger that keeps the messages of its debug lines. */
function debugLines(isLevelEnabled?: (level: string) => boolean): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger & { isLevelEnabled?: (level: string) => boolean } = {
    debug: (_obj: object | string, msg?: string) => void lines.push(String(msg)),
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
    child: () => logger,
  };
  if (isLevelEnabled !== undefined) logger.isLevelEnabled = isLevelEnabled;
  return { logger, lines };
}

const GUARDED = ['connection accepted', 'agent never_connected -> pending', 'agent pending -> active', 'connection closed'];

describe('connection events and debug lines', () => {
  it('reports connections and disconnections with their peer', async () => {
    const peers: { event: string; peer: PeerInfo }[] = [];
    const m = await oneAgent(debugLines().logger, (started) => {
      started.on('connection', (peer) => peers.push({ event: 'connection', peer }));
      started.on('disconnection', (peer) => peers.push({ event: 'disconnection', peer }));
    });
    await until(() => peers.length === 2);
    expect(peers.map((p) => p.event)).toEqual(['connection', 'disconnection']);
    for (const { peer } of peers) {
      expect(peer).toMatchObject({ connectionId: 1, protocol: 'tcp', remoteAddress: '127.0.0.1' });
      expect(peer.remotePort).toBeGreaterThan(0);
    }
    expect(peers[1]!.peer.agentId).toBe(m.keyStore.list()[0]!.id);
  });

  it('writes the per-connection and per-status debug lines to a logger with debug on, and to one that cannot tell', async () => {
    for (const isLevelEnabled of [undefined, () => true]) {
      const { logger, lines } = debugLines(isLevelEnabled);
      await oneAgent(logger);
      expect(lines).toEqual(expect.arrayContaining(GUARDED));
    }
  });

  it('builds none of them for a logger whose debug level is off', async () => {
    const { logger, lines } = debugLines((level) => level !== 'debug');
    await oneAgent(logger);
    for (const line of GUARDED) expect(lines).not.toContain(line);
  });
});
