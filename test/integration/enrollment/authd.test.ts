import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it, onTestFinished } from 'vitest';
import { enroll, EnrollmentError } from '../../../src/index.js';
import type { EnrollOptions, AgentKey } from '../../../src/index.js';
import { enrollmentKeyHash } from '../../../src/protocol/keys.js';
import type { AgentStatusInfo } from '../../../src/testing/index.js';
import { TEST_CA_CERT, KeyStore } from '../../../src/testing/index.js';
import { HOST, startAuthd } from './helpers.js';

const HOUR = 3_600_000;
const EXISTING: AgentKey = { id: '001', name: 'agent1', ip: 'any', key: 'a'.repeat(64) };

async function enrollErr(options: EnrollOptions): Promise<EnrollmentError> {
  const err = await enroll(options).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(EnrollmentError);
  return err as EnrollmentError;
}

describe('enroll against MockAuthd', () => {
  it('gets a new key that is in the key store at once', async () => {
    const { authd, keyStore, port } = await startAuthd();
    const events: AgentKey[] = [];
    authd.on('enrolled', (k) => events.push(k));
    const key = await enroll({ host: HOST, port, name: 'agent1', ca: TEST_CA_CERT });
    expect(key).toMatchObject({ id: '001', name: 'agent1', ip: 'any' });
    expect(key.key).toMatch(/^[0-9a-f]{64}$/);
    expect(keyStore.get('001')).toEqual(key);
    expect(keyStore.lookup('001')?.key).toBe(key.key);
    expect(events).toEqual([key]);
    expect(authd.stats()).toMatchObject({ enrolled: 1, rejected: 0, connections: 1 });
  });

  it('gives the next id after the highest one, removed ids included', async () => {
    const keyStore = new KeyStore('001 agent1 any k1k1\n007 !gone any k7k7\n');
    const { port } = await startAuthd({ keyStore });
    const key = await enroll({ host: HOST, port, name: 'agent2' });
    expect(key.id).toBe('008');
  });

  it('enrolls with the right password and refuses a wrong or missing one with Invalid password', async () => {
    const { authd, port } = await startAuthd({ password: 'topsecret' });
    const key = await enroll({ host: HOST, port, name: 'agent1', password: 'topsecret' });
    expect(key.name).toBe('agent1');

    const wrong = await enrollErr({ host: HOST, port, name: 'agent2', password: 'wrongpass' });
    expect(wrong.code).toBe('ERR_ENROLLMENT_REJECTED');
    expect(wrong.managerMessage).toBe('Invalid password');
    expect(wrong.message).toBe('Invalid password (from manager)');
    expect(wrong.message).not.toContain('wrongpass');

    const missing = await enrollErr({ host: HOST, port, name: 'agent2' });
    expect(missing.managerMessage).toBe('Invalid password');
    expect(authd.stats().rejectedByReason).toEqual({ 'Invalid password': 2 });
  });

  it('refuses a password sent to an authd without one', async () => {
    const { port } = await startAuthd();
    const err = await enrollErr({ host: HOST, port, name: 'agent1', password: 'topsecret' });
    expect(err.managerMessage).toBe('Invalid request for new agent');
  });

  it('refuses a duplicate name when the existing agent is connected', async () => {
    const keyStore = new KeyStore([EXISTING]);
    const status: AgentStatusInfo = { status: 'active', since: Date.now() - 2 * HOUR };
    const { authd, port } = await startAuthd({ keyStore, statusOf: (id) => (id === '001' ? status : undefined) });
    const rejected: string[] = [];
    authd.on('rejected', (r) => rejected.push(`${r.name}: ${r.reason}`));
    const err = await enrollErr({ host: HOST, port, name: 'agent1' });
    expect(err.code).toBe('ERR_ENROLLMENT_REJECTED');
    expect(err.managerMessage).toBe('Duplicate agent name: agent1');
    expect(keyStore.get('001')).toEqual(EXISTING);
    expect(rejected).toEqual(['agent1: Duplicate agent name: agent1']);
  });

  it('replaces a never-connected agent with the same name under the default force rules', async () => {
    const keyStore = new KeyStore([EXISTING]);
    const { authd, port } = await startAuthd({ keyStore, statusOf: () => ({ status: 'never_connected', since: 0 }) });
    const replaced: string[] = [];
    authd.on('replaced', (r) => replaced.push(r.old.id));
    const key = await enroll({ host: HOST, port, name: 'agent1' });
    expect(key.id).toBe('002');
    expect(keyStore.get('001')).toBeUndefined();
    expect(keyStore.findByName('agent1')).toEqual(key);
    expect(replaced).toEqual(['001']);
    expect(authd.stats().replaced).toBe(1);
  });

  it('replaces an agent disconnected for longer than disconnectedTime, and not one disconnected recently', async () => {
    const keyStore = new KeyStore([EXISTING, { id: '002', name: 'agent2', ip: 'any', key: 'b'.repeat(64) }]);
    const now = Date.now();
    const statuses: Record<string, AgentStatusInfo> = {
      '001': { status: 'disconnected', since: now - 2 * HOUR },
      '002': { status: 'disconnected', since: now - 10 * 60_000 },
    };
    const { port } = await startAuthd({ keyStore, statusOf: (id) => statuses[id] });
    expect((await enroll({ host: HOST, port, name: 'agent1' })).id).toBe('003');
    const err = await enrollErr({ host: HOST, port, name: 'agent2' });
    expect(err.managerMessage).toBe('Duplicate agent name: agent2');
  });

  it('does not replace an agent registered less than afterRegistrationTime ago, unless the rule is off', async () => {
    const { port } = await startAuthd();
    await enroll({ host: HOST, port, name: 'agent1' });
    const err = await enrollErr({ host: HOST, port, name: 'agent1' });
    expect(err.managerMessage).toBe('Duplicate agent name: agent1');

    const second = await startAuthd({ force: { afterRegistrationTime: 0 } });
    const first = await enroll({ host: HOST, port: second.port, name: 'agent1' });
    const again = await enroll({ host: HOST, port: second.port, name: 'agent1' });
    expect(again.id).not.toBe(first.id);
    expect(second.keyStore.list().map((k) => k.id)).toEqual([again.id]);
  });

  it('refuses to replace an agent whose key the request already holds (K: hash, key_mismatch)', async () => {
    const keyStore = new KeyStore([EXISTING]);
    const { port } = await startAuthd({ keyStore });
    const err = await enrollErr({ host: HOST, port, name: 'agent1', currentKey: EXISTING });
    expect(err.managerMessage).toBe('Duplicate agent name: agent1');
    // A different key held by the agent: the manager's entry is stale and gets replaced.
    const key = await enroll({ host: HOST, port, name: 'agent1', currentKey: { ...EXISTING, key: 'c'.repeat(64) } });
    expect(key.id).toBe('002');
    expect(enrollmentKeyHash(key)).not.toBe(enrollmentKeyHash(EXISTING));
  });

  it('never replaces with force disabled', async () => {
    const keyStore = new KeyStore([EXISTING]);
    const { port } = await startAuthd({ keyStore, force: { enabled: false } });
    expect((await enrollErr({ host: HOST, port, name: 'agent1' })).managerMessage).toBe('Duplicate agent name: agent1');
  });

  it('refuses a duplicate IP of a connected agent', async () => {
    const keyStore = new KeyStore([{ id: '001', name: 'old', ip: '10.1.1.1', key: 'a'.repeat(64) }]);
    const { port } = await startAuthd({ keyStore, statusOf: () => ({ status: 'active', since: 0 }) });
    const err = await enrollErr({ host: HOST, port, name: 'new', agentAddress: '10.1.1.1' });
    expect(err.managerMessage).toBe('Duplicate IP: 10.1.1.1');
  });

  it('refuses an unknown group and enrolls into existing groups', async () => {
    const { authd, port } = await startAuthd({ groups: ['default', 'linux'] });
    const err = await enrollErr({ host: HOST, port, name: 'agent1', groups: ['default', 'nosuch'] });
    expect(err.managerMessage).toBe('Invalid group: nosuch');
    const infos: string[][] = [];
    authd.on('enrolled', (_k, info) => infos.push(info.groups));
    const key = await enroll({ host: HOST, port, name: 'agent1', groups: ['linux', 'default'] });
    expect(key.name).toBe('agent1');
    expect(infos).toEqual([['linux', 'default']]);
  });

  it("records the connection's source address for agentAddress 'src' and the given address otherwise", async () => {
    const { keyStore, port } = await startAuthd();
    const a = await enroll({ host: HOST, port, name: 'agent1', agentAddress: 'src' });
    expect(a.ip).toBe('127.0.0.1');
    expect(keyStore.get(a.id)?.ip).toBe('127.0.0.1');
    const b = await enroll({ host: HOST, port, name: 'agent2', agentAddress: '10.0.0.0/8' });
    expect(b.ip).toBe('10.0.0.0/8');
  });

  it('records the source address without IP: when useSourceIp is on', async () => {
    const { port } = await startAuthd({ useSourceIp: true });
    expect((await enroll({ host: HOST, port, name: 'agent1' })).ip).toBe('127.0.0.1');
  });

  it('refuses an agent newer than the manager unless allowHigherVersions', async () => {
    const { port } = await startAuthd({ managerVersion: 'v4.9.0' });
    const err = await enrollErr({ host: HOST, port, name: 'agent1' });
    expect(err.managerMessage).toBe('Agent version must be lower or equal to manager version');
    const open = await startAuthd({ managerVersion: 'v4.9.0', allowHigherVersions: true });
    expect((await enroll({ host: HOST, port: open.port, name: 'agent1' })).id).toBe('001');
  });

  it('answers with the rejectAll fault reason and counts it by kind', async () => {
    const { authd, port } = await startAuthd();
    authd.setFaults({ rejectAll: 'Agent limit (10) reached' });
    const err = await enrollErr({ host: HOST, port, name: 'agent1' });
    expect(err.managerMessage).toBe('Agent limit (10) reached');
    authd.setFaults({ rejectAll: undefined });
    expect((await enroll({ host: HOST, port, name: 'agent1' })).id).toBe('001');
    expect(authd.stats().rejectedByReason).toEqual({ 'Agent limit (10) reached': 1 });
  });

  it('sends exactly the v4.13+ error line, then closes', async () => {
    const { port } = await startAuthd();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: HOST, port, rejectUnauthorized: false }, () => socket.write("OSSEC A:'x' V:'v4.14.7'\n"));
      onTestFinished(() => void socket.destroy());
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(text));
    });
    expect(reply).toBe('ERROR: Invalid agent name: x. Unable to add agent');
  });
});

describe('MockAuthd connection handling', () => {
  it('closes a connection whose request line exceeds 69632 bytes', async () => {
    const { authd, port } = await startAuthd();
    const reply = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ host: HOST, port, rejectUnauthorized: false }, () => socket.write('A'.repeat(70_000)));
      onTestFinished(() => void socket.destroy());
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
    });
    expect(reply).toBe('');
    expect(authd.stats().enrolled + authd.stats().rejected).toBe(0);
  });

  it('closes a connection that sends nothing within requestTimeout', async () => {
    const { port } = await startAuthd({ requestTimeout: 100 });
    const closed = await new Promise<boolean>((resolve) => {
      const socket = tlsConnect({ host: HOST, port, rejectUnauthorized: false });
      onTestFinished(() => void socket.destroy());
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(true));
    });
    expect(closed).toBe(true);
  });

  it('destroys open connections on close()', async () => {
    const { authd, port } = await startAuthd();
    const socket = tlsConnect({ host: HOST, port, rejectUnauthorized: false });
    onTestFinished(() => void socket.destroy());
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await authd.close();
    await closed;
    expect(socket.destroyed).toBe(true);
    await expect(authd.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });
});
