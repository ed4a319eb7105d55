/**
 * The real Wazuh agent (wazuh-agentd 4.14.7) with no key enrolls through MockAuthd (the
 * `authd` option of MockManager) and connects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import { describeIfRealAgent, startRealAgent, stopAllRealAgents } from '../../helpers/real-agent.js';

afterAll(stopAllRealAgents);

await describeIfRealAgent('wazuh-agentd 4.14.7 enrolls through MockAuthd', () => {
  describe.concurrent('enrollment', () => {
    it('with the right password and groups: agentd gets a key, writes client.keys, and connects', async (ctx) => {
      const keys = new KeyStore();
      const manager = new MockManager({ keys, authd: { password: 'Sup3r-secret', groups: ['default', 'web', 'db'] } });
      await manager.start();
      ctx.onTestFinished(() => manager.close());
      const agent = await startRealAgent(ctx, {
        servers: [{ port: manager.port }],
        enrollment: { port: manager.authdPort!, agentName: 'real-web-01', password: 'Sup3r-secret', groups: ['web', 'db'] },
      });
      const [record] = await manager.waitForAgents(1, { timeout: 20_000 });
      expect(record).toMatchObject({ id: '001', name: 'real-web-01', status: 'active' });
      expect(keys.groupsOf('001')).toEqual(['web', 'db']);
      const stored = keys.get('001')!;
      expect(readFileSync(join(agent.home, 'etc', 'client.keys'), 'utf8').trim()).toBe(`${stored.id} ${stored.name} ${stored.ip} ${stored.key}`);
      expect(manager.authd!.stats().enrolled).toBe(1);
    }, 30_000);

    it('without a password, against an authd that needs none', async (ctx) => {
      const keys = new KeyStore();
      const manager = new MockManager({ keys, authd: true });
      await manager.start();
      ctx.onTestFinished(() => manager.close());
      await startRealAgent(ctx, { servers: [{ port: manager.port }], enrollment: { port: manager.authdPort!, agentName: 'real-nopass' } });
      const [record] = await manager.waitForAgents(1, { timeout: 20_000 });
      expect(record).toMatchObject({ name: 'real-nopass', status: 'active' });
    }, 30_000);

    it('with a wrong password: authd refuses, agentd logs the reason, gets no key and does not connect', async (ctx) => {
      const keys = new KeyStore();
      const manager = new MockManager({ keys, authd: { password: 'right' } });
      await manager.start();
      ctx.onTestFinished(() => manager.close());
      const agent = await startRealAgent(ctx, {
        servers: [{ port: manager.port }],
        enrollment: { port: manager.authdPort!, agentName: 'real-badpass', password: 'wrong' },
      });
      await agent.waitForLog(/Invalid password/, { timeout: 15_000 });
      expect(keys.list()).toEqual([]);
      expect(readFileSync(join(agent.home, 'etc', 'client.keys'), 'utf8')).toBe('');
      expect(manager.stats().connectionsTotal).toBe(0);
      expect(manager.authd!.stats()).toMatchObject({ enrolled: 0 });
    }, 30_000);
  });
});
