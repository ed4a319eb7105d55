import { describe, expect, it, onTestFinished } from 'vitest';
import { enroll, EnrollmentError } from '../../../src/index.js';
import { MockManager } from '../../../src/testing/index.js';
import { ACK, RawAgent } from '../testing/raw-agent.js';
import { HOST } from './helpers.js';

async function startManager(): Promise<{ manager: MockManager; authdPort: number; port: number }> {
  const manager = new MockManager({ authd: { force: { afterRegistrationTime: 0 } } });
  onTestFinished(() => manager.close());
  const ports = await manager.start();
  return { manager, authdPort: ports.authd!, port: manager.port };
}

describe('enrollment through MockManager', () => {
  it('lets an agent connect with its new key right after enrolling', async () => {
    const { manager, authdPort, port } = await startManager();
    const key = await enroll({ host: HOST, port: authdPort, name: 'agent1' });
    expect(manager.agent(key.id)?.status).toBe('never_connected');

    const agent = await RawAgent.tcp(key, port);
    onTestFinished(() => agent.close());
    expect(await agent.handshake()).toBe(ACK);
    // Startup ACKed: the manager holds the key (pending until the first keepalive, as in Wazuh).
    expect(manager.agent(key.id)?.status).toBe('pending');
  });

  it("refuses to replace the agent once it has connected, using the manager's status", async () => {
    const { authdPort, port } = await startManager();
    const key = await enroll({ host: HOST, port: authdPort, name: 'agent1' });
    const agent = await RawAgent.tcp(key, port);
    onTestFinished(() => agent.close());
    expect(await agent.handshake()).toBe(ACK);

    const err = await enroll({ host: HOST, port: authdPort, name: 'agent1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EnrollmentError);
    expect((err as EnrollmentError).managerMessage).toBe('Duplicate agent name: agent1');
  });

  it('replaces an agent that never connected', async () => {
    const { manager, authdPort } = await startManager();
    const first = await enroll({ host: HOST, port: authdPort, name: 'agent1' });
    const second = await enroll({ host: HOST, port: authdPort, name: 'agent1' });
    expect(second.id).not.toBe(first.id);
    expect(manager.keyStore.get(first.id)).toBeUndefined();
    expect(manager.keyStore.get(second.id)).toEqual(second);
  });
});
