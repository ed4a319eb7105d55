/**
 * MockManager's faults as the real Wazuh agent (wazuh-agentd 4.14.7) lives them: a hung manager,
 * withheld ACKs, corrupt frames, a version error, a wrong key, counter verification across an
 * agent restart. Short timers: notify_time 1 s, time-reconnect 3 s, agent.recv_timeout 2 s,
 * retry_interval 1 s. Each test has its own manager and agent; they run concurrently.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyStore, MockCluster, MockManager } from '../../../src/testing/index.js';
import { AgentClient } from '../../../src/index.js';
import type { AgentKey } from '../../../src/index.js';
import { describeIfRealAgent, managerWithKey, queueMessage, startRealAgent, stopAllRealAgents } from '../../helpers/real-agent.js';
import type { RealAgentOptions } from '../../helpers/real-agent.js';

afterAll(stopAllRealAgents);

const FAST = { notifyTime: 1, timeReconnect: 3, internalOptions: { 'agent.recv_timeout': 2 } } satisfies Partial<RealAgentOptions>;
const CONNECTED = '(4102): Connected to the server';
/** What random ciphertext decodes to: bad padding almost always, else a zlib or checksum failure. */
const UNDECRYPTABLE = ['ERR_DECODE_DECRYPT', 'ERR_DECODE_COMPRESSION', 'ERR_DECODE_CHECKSUM'];

/** Times (ms since the epoch) at which the manager received a startup from the agent. */
function startupTimes(manager: MockManager): number[] {
  const times: number[] = [];
  manager.on('control', (_id, m) => {
    if (m.type === 'startup') times.push(Date.now());
  });
  return times;
}

await describeIfRealAgent('wazuh-agentd 4.14.7 against MockManager faults', () => {
  describe.concurrent('faults', () => {
    it('blackhole: agentd gives the connection up once time-reconnect passes without an ACK, then retries every recv_timeout + retry_interval until the manager answers', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, ...FAST });
      await manager.waitForAgents(1, { timeout: 15_000 });
      const mark = agent.mark();
      const connectionsBefore = manager.stats().connectionsTotal;
      const on = Date.now();
      await manager.setFaults({ blackhole: true });
      await agent.waitForLog('Server unavailable. Setting lock.', { since: mark, timeout: 10_000 });
      const noticed = Date.now() - on;
      // last ACK at most notify_time before the fault; agentd compares whole seconds with '>'
      expect(noticed).toBeGreaterThanOrEqual(2_000);
      expect(noticed).toBeLessThan(8_000);
      // while hung, each attempt connects (the kernel accepts) and waits recv_timeout for the ACK
      await ctx.expect.poll(() => manager.stats().connectionsTotal, { timeout: 10_000 }).toBeGreaterThanOrEqual(connectionsBefore + 2);
      await manager.clearFaults();
      await agent.waitForLog('Server responded. Releasing lock.', { since: mark, timeout: 10_000 });
      await manager.waitForAgents(1, { timeout: 5_000 });
    }, 40_000);

    it('withheld ACKs: events still arrive, agentd leaves after time-reconnect, and its startups are spaced by recv_timeout + retry_interval', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const startups = startupTimes(manager);
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, ...FAST });
      await manager.waitForAgents(1, { timeout: 15_000 });
      const mark = agent.mark();
      await manager.setFaults({ withholdAcks: true });
      await agent.inject([queueMessage('1', 'withheld', 'still delivered')]);
      await manager.waitForEvents((e) => e.location === 'withheld', { timeout: 5_000 });
      await agent.waitForLog('Server unavailable. Setting lock.', { since: mark, timeout: 10_000 });
      await ctx.expect.poll(() => startups.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(4);
      // attempts 2, 3, ...: each waits recv_timeout (2 s) for the ACK, then sleeps retry_interval (1 s)
      const gaps = startups.slice(1).map((t, i) => t - startups[i]!).slice(1);
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(2_500);
        expect(gap).toBeLessThan(6_000);
      }
      await manager.clearFaults();
      await agent.waitForLog('Server responded. Releasing lock.', { since: mark, timeout: 10_000 });
    }, 45_000);

    it('corrupt frames: agentd and AgentClient alike log an undecryptable frame and keep the connection; an oversize frame makes both reconnect', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const [sdkKey] = manager.keyStore.generate(1);
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, notifyTime: 1, timeReconnect: 20 });
      const sdk = new AgentClient({ agent: sdkKey!, servers: [{ ...manager.address, retryInterval: 1000 }], notifyTime: 1000, timeReconnect: 20_000 });
      const sdkErrors: string[] = [];
      const sdkDisconnects: string[] = [];
      sdk.on('error', (e) => sdkErrors.push(e.code));
      sdk.on('disconnected', ({ reason }) => sdkDisconnects.push(reason.code));
      ctx.onTestFinished(() => sdk.stop({ drainTimeout: 0 }));
      await sdk.start();
      await manager.waitForAgents(2, { timeout: 15_000 });
      let mark = agent.mark();
      await manager.setFaults({ corruptFrames: true, corruptMode: 'ciphertext' });
      await agent.waitForLog('(1214): Problem receiving message from', { since: mark, timeout: 5_000 });
      expect(agent.logSince(mark)).toMatch(/\(1404\): Authentication error\. Wrong key or corrupt payload/);
      // three keepalives later, still one connection each and no reconnect
      await ctx.expect.poll(() => agent.logLines(/\(1214\)/, mark).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      await ctx.expect.poll(() => sdk.stats().decodeErrors, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
      expect(manager.stats().connectionsTotal).toBe(2);
      expect(agent.logSince(mark)).not.toMatch(/Lost connection|Trying to connect/);
      expect(sdk.stats()).toMatchObject({ connects: 1, disconnects: 0 });
      expect(sdkErrors.filter((c) => !UNDECRYPTABLE.includes(c))).toEqual([]);

      mark = agent.mark();
      await manager.setFaults({ corruptMode: 'oversize' });
      await agent.waitForLog('Corrupt payload (exceeding size) received.', { since: mark, timeout: 5_000 });
      await agent.waitForLog('(1137): Lost connection with manager. Setting lock.', { since: mark, timeout: 5_000 });
      await ctx.expect.poll(() => sdkDisconnects.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
      expect(sdkDisconnects[0]).toBe('ERR_DECODE_FRAME_TOO_LARGE');
      await manager.clearFaults();
      await agent.waitForLog(CONNECTED, { since: mark, timeout: 10_000 });
      await manager.waitForAgents(2, { timeout: 10_000 });
      expect(manager.stats().connectionsTotal).toBeGreaterThanOrEqual(4);
    }, 40_000);

    it('version error: agentd logs the manager\'s #!-err message, is not registered, and connects once the manager accepts it', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      await manager.setFaults({ versionError: true });
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, ...FAST });
      await agent.waitForLog("Couldn't connect to server '127.0.0.1': 'Agent version must be lower or equal to manager version'");
      expect(manager.agent(key.id)).toMatchObject({ status: 'never_connected', statusCode: 'invalid_version' });
      await manager.clearFaults();
      await manager.waitForAgents(1, { timeout: 10_000 });
      expect(manager.agent(key.id)?.statusCode).toBeUndefined();
    }, 30_000);

    it('a manager older than the agent (v4.9.0) refuses its startup with the same error', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx, { managerVersion: 'v4.9.0' });
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, ...FAST });
      await agent.waitForLog("Couldn't connect to server '127.0.0.1': 'Agent version must be lower or equal to manager version'");
      expect(manager.agent(key.id)?.statusCode).toBe('invalid_version');
      expect(agent.log()).not.toContain(CONNECTED);
    }, 30_000);

    it('a wrong key: the manager cannot decrypt the startup and closes; agentd never connects and keeps retrying', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const wrong: AgentKey = { ...key, key: key.key.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) };
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key: wrong, ...FAST });
      // two attempts, each refused
      await ctx.expect.poll(() => manager.stats().decodeErrors, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      const stats = manager.stats();
      expect(stats.connectionsTotal).toBeGreaterThanOrEqual(2);
      expect(Object.keys(stats.decodeErrorsByCode).filter((c) => !UNDECRYPTABLE.includes(c))).toEqual([]);
      expect(manager.agent(key.id)?.status).toBe('never_connected');
      expect(agent.log()).not.toContain(CONNECTED);
    }, 30_000);

    it('rejectKeys: the manager treats the agent as unknown (1408) and agentd never connects', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      await manager.setFaults({ rejectKeys: [key.id] });
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, ...FAST });
      await ctx.expect.poll(() => manager.stats().decodeErrorsByCode.ERR_DECODE_UNKNOWN_AGENT ?? 0, { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
      expect(agent.log()).not.toContain(CONNECTED);
      await manager.clearFaults();
      await manager.waitForAgents(1, { timeout: 10_000 });
    }, 30_000);

    it('agentd checking the manager\'s counters (remoted.verify_msg_id=1): a MockCluster node restarted continues its sender counter and is accepted at once; a fresh MockManager on the same port is refused as a duplicate (1407)', async (ctx) => {
      const keys = new KeyStore();
      const [key] = keys.generate(1);
      const cluster = new MockCluster({ nodes: 1, keys });
      ctx.onTestFinished(() => cluster.close());
      await cluster.start();
      const port = cluster.servers()[0]!.port;
      const agent = await startRealAgent(ctx, { servers: [{ port }], key: key!, ...FAST, internalOptions: { ...FAST.internalOptions, 'remoted.verify_msg_id': 1 } });
      await cluster.waitForAgents(1, { timeout: 15_000 });
      await ctx.expect.poll(() => cluster.node('node1').stats().acksSent, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);

      let mark = agent.mark();
      await cluster.restart('node1');
      await agent.waitForLog(CONNECTED, { since: mark, timeout: 10_000 });
      await cluster.waitForAgents(1, { timeout: 5_000 });
      expect(agent.logSince(mark)).not.toMatch(/\(1407\)|Duplicate error/);

      // what happened before MockManager had a counter store: a new manager starts again at 0:1
      await cluster.kill('node1');
      mark = agent.mark();
      const fresh = new MockManager({ keys, port });
      ctx.onTestFinished(() => fresh.close());
      await fresh.start();
      await agent.waitForLog(`(1407): Duplicated counter for '${key!.name}'.`, { since: mark, timeout: 10_000 });
      expect(agent.logSince(mark)).not.toContain(CONNECTED);
    }, 40_000);

    it('counter verification: agentd restarted with its queue/rids continues its counter and is accepted; with queue/rids removed it starts over and is refused as a duplicate (1407)', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx, { verifyCounters: true });
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, ...FAST });
      await manager.waitForAgents(1, { timeout: 15_000 });
      await agent.inject(['a', 'b', 'c'].map((m) => queueMessage('1', 'counter', m)));
      await manager.waitForEvents((e) => e.location === 'counter', { count: 3, timeout: 5_000 });
      const before = manager.agent(key.id)!.counter!;

      await agent.restart();
      await manager.waitForAgents(1, { timeout: 15_000, status: 'pending' });
      await manager.waitForAgents(1, { timeout: 15_000 });
      expect(manager.stats().counterRejections).toBe(0);
      const after = manager.agent(key.id)!.counter!;
      expect(after.global * 10_000 + after.local).toBeGreaterThan(before.global * 10_000 + before.local);

      await agent.stop();
      for (const f of readdirSync(join(agent.home, 'queue', 'rids'))) rmSync(join(agent.home, 'queue', 'rids', f));
      const mark = agent.mark();
      await agent.restart();
      await ctx.expect.poll(() => manager.stats().decodeErrorsByCode.ERR_DECODE_COUNTER ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
      expect(agent.logSince(mark)).not.toContain(CONNECTED);
    }, 45_000);
  });
});
