/**
 * Manager commands to the real Wazuh agent (wazuh-agentd 4.14.7): force_reconnect, a shared-file
 * push, requests answered by agentd, active responses. Each test has its own manager and agent and
 * they run concurrently.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentClient } from '../../../src/index.js';
import { describeIfRealAgent, managerWithKey, startRealAgent, stopAllRealAgents } from '../../helpers/real-agent.js';

afterAll(stopAllRealAgents);

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('hex');


await describeIfRealAgent('wazuh-agentd 4.14.7 against MockManager: manager commands', () => {
  describe.concurrent('commands', () => {
    it('force_reconnect: agentd closes its connection and connects again to the same server at once', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key });
      await manager.waitForAgents(1, { timeout: 15_000 });
      const mark = agent.mark();
      const sent = Date.now();
      expect(manager.forceReconnect([key.id])).toBe(1);
      await agent.waitForLog('Wazuh Agent will be reconnected because a reconnect message was received', { since: mark });
      await agent.waitForLog(`(4102): Connected to the server ([127.0.0.1]:${manager.port}/tcp)`, { since: mark });
      const elapsed = Date.now() - sent;
      expect(manager.agent(key.id)).toMatchObject({ sessions: 2, connected: true });
      expect(manager.stats().connectionsTotal).toBe(2);
      // about 0.1 s when idle; bounded generously for a loaded machine
      expect(elapsed).toBeLessThan(3_000);
    }, 30_000);

    it('a shared-file push: agentd writes etc/shared/merged.mg, unpacks it, and reports the new sums in its next keepalive', async (ctx) => {
      const agentConf = '<agent_config>\n  <labels>\n    <label key="pushed">yes</label>\n  </labels>\n</agent_config>\n';
      const extra = 'line one\nline two: ünïcödé\n';
      const { manager, key } = await managerWithKey(ctx, { sharedFiles: { default: [{ name: 'agent.conf', content: agentConf }, { name: 'extra.txt', content: extra }] } });
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key });
      const sum = manager.sharedFilesSum('default')!;
      await manager.waitForAgents(1, { timeout: 15_000 });
      await agent.waitForLog('Shared agent configuration has been updated.');
      const shared = join(agent.home, 'etc', 'shared');
      expect(md5(readFileSync(join(shared, 'merged.mg')))).toBe(sum);
      expect(readFileSync(join(shared, 'agent.conf'), 'utf8')).toBe(agentConf);
      expect(readFileSync(join(shared, 'extra.txt'), 'utf8')).toBe(extra);
      // the next keepalives carry the new merged.mg sum and the agent.conf sum (` / <md5>`)
      await ctx.expect.poll(() => manager.agent(key.id)?.mergedSum, { timeout: 10_000 }).toBe(sum);
      expect(manager.agent(key.id)?.configSum).toBe(md5(agentConf));
      expect(manager.stats().filesPushed).toBe(1);
    }, 30_000);

    it('#!-req: agentd answers getstate, getconfig labels, buffer and client, and the errors for unknown sections, commands and components', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      await startRealAgent(ctx, { servers: [{ port: manager.port, maxRetries: 3, retryInterval: 2 }], key, labels: { env: 'ci' }, notifyTime: 2, timeReconnect: 12 });
      await manager.waitForAgents(1, { timeout: 15_000 });
      const state = JSON.parse(await manager.request(key.id, 'agent', 'getstate', { timeout: 5_000 })) as { error: number; data: Record<string, unknown> };
      expect(state).toMatchObject({ error: 0, data: { status: 'connected', buffer_enabled: true, msg_buffer: 0 } });
      expect(Object.keys(state.data).sort()).toEqual(['buffer_enabled', 'last_ack', 'last_keepalive', 'msg_buffer', 'msg_count', 'msg_sent', 'status']);
      expect(await manager.request(key.id, 'agent', 'getconfig labels', { timeout: 5_000 })).toBe('ok {"labels":[{"value":"ci","key":"env","hidden":"no"}]}');
      expect(await manager.request(key.id, 'agent', 'getconfig buffer', { timeout: 5_000 })).toBe('ok {"buffer":{"disabled":"no","queue_size":5000,"events_per_second":500}}');
      const client = JSON.parse((await manager.request(key.id, 'agent', 'getconfig client', { timeout: 5_000 })).slice(3)) as { client: Record<string, unknown> };
      expect(client.client).toMatchObject({
        notify_time: 2,
        'time-reconnect': 12,
        crypto_method: 'aes',
        server: [{ address: '127.0.0.1', port: manager.port, max_retries: 3, retry_interval: 2, protocol: 'tcp' }],
      });
      expect(await manager.request(key.id, 'agent', 'getconfig nosuch', { timeout: 5_000 })).toBe('err Could not get requested section');
      expect(await manager.request(key.id, 'agent', 'getconfig', { timeout: 5_000 })).toBe('err AGCOM getconfig needs arguments');
      expect(await manager.request(key.id, 'agent', 'reboot', { timeout: 5_000 })).toBe('err Unrecognized command');
      // a component that is not running (no logcollector in these tests): the socket error
      expect(await manager.request(key.id, 'logcollector', 'getconfig localfile', { timeout: 5_000 })).toMatch(/^err /);
    }, 30_000);

    it('the same requests to agentd and to an AgentClient with the same settings get the same answers (getconfig client, buffer, labels, internal, anti_tampering; getstate; errors)', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const [sdkKey] = manager.keyStore.generate(1);
      const servers = [{ port: manager.port, maxRetries: 3, retryInterval: 2 }];
      await startRealAgent(ctx, {
        servers,
        key,
        notifyTime: 2,
        timeReconnect: 12,
        labels: { env: 'ci', token: { value: 'x', hidden: true } },
        enrollment: { port: 1515, agentName: 'same-name', groups: ['web', 'db'], delayAfterEnrollment: 20, enabled: false },
        internalOptions: { 'agent.state_interval': 5, 'agent.recv_timeout': 5 },
      });
      const sdk = new AgentClient({
        agent: sdkKey!,
        servers: servers.map((s) => ({ address: '127.0.0.1', port: s.port, maxRetries: s.maxRetries, retryInterval: s.retryInterval * 1000 })),
        notifyTime: 2000,
        timeReconnect: 12_000,
        handshakeTimeout: 5000,
        configProfile: 'debian, debian12',
        autoRestart: false,
        labels: [
          { key: 'env', value: 'ci' },
          { key: 'token', value: 'x', hidden: true },
        ],
        enrollment: { enabled: false, managerAddress: '127.0.0.1', agentName: 'same-name', groups: ['web', 'db'] },
      });
      ctx.onTestFinished(() => sdk.stop({ drainTimeout: 0 }));
      await sdk.start();
      await manager.waitForAgents(2, { timeout: 15_000 });
      const ask = (id: string, command: string) => manager.request(id, 'agent', command, { timeout: 5_000 });
      // the TLS cipher list is each one's own (OpenSSL's for agentd, Node's for agentlink)
      const sameCiphers = (text: string) => text.replace(/"ssl_cipher":"[^"]*"/, '"ssl_cipher":"…"');
      for (const command of ['getconfig client', 'getconfig buffer', 'getconfig labels', 'getconfig internal', 'getconfig anti_tampering', 'getconfig nosuch', 'getconfig', 'reboot']) {
        const [real, ours] = await Promise.all([ask(key.id, command), ask(sdkKey!.id, command)]);
        expect({ command, answer: sameCiphers(ours) }).toEqual({ command, answer: sameCiphers(real) });
      }
      // getstate: the same fields, types and status (the counters and times are each agent's own)
      const [real, ours] = (await Promise.all([ask(key.id, 'getstate'), ask(sdkKey!.id, 'getstate')])).map((t) => JSON.parse(t) as { error: number; data: Record<string, unknown> });
      const shape = (s: { error: number; data: Record<string, unknown> }) => ({ error: s.error, data: Object.fromEntries(Object.entries(s.data).map(([k, v]) => [k, typeof v])) });
      expect(Object.keys(ours!.data)).toEqual(Object.keys(real!.data));
      expect(shape(ours!)).toEqual(shape(real!));
      expect(ours!.data.status).toBe(real!.data.status);
    }, 30_000);

    it('active response: agentd forwards the text after "#!-execd " to queue/alerts/execq, NUL-terminated', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key, execd: true });
      await manager.waitForAgents(1, { timeout: 15_000 });
      const command = { version: 1, command: 'firewall-drop5', parameters: { extra_args: [], alert: { data: { srcip: '10.1.2.3' } }, program: 'active-response/bin/firewall-drop' }, origin: { name: 'node01', module: 'wazuh-analysisd' } };
      expect(manager.activeResponse(key.id, command)).toBe(1);
      expect(manager.activeResponse(key.id, 'restart-wazuh0 - - 1700000000.1 1 /dev/null')).toBe(1);
      await ctx.expect.poll(() => agent.activeResponses().length, { timeout: 10_000 }).toBe(2);
      const [first, second] = agent.activeResponses();
      expect(first!.toString('utf8')).toBe(`${JSON.stringify(command)}\0`);
      expect(second!.toString('utf8')).toBe('restart-wazuh0 - - 1700000000.1 1 /dev/null\0');
    }, 30_000);
  });
});
