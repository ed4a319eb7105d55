import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentlinkError, ConfigError, ToolError } from '../../../src/index.js';
import { HaproxyBalancer, HaproxyRuntimeApi } from '../../../src/testing/lb/index.js';
import { describeIfLb } from '../../helpers/require-lb.js';
import { closeClients, countByServer, CountingServer, openClient, openClients, processAndPipeHandles } from './backends.js';
import type { Client } from './backends.js';

const backendsOf = (servers: readonly CountingServer[]) => servers.map((s) => ({ name: s.name, address: '127.0.0.1', port: s.port }));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('HaproxyBalancer without a usable binary', () => {
  it('rejects a binary path that does not exist with ERR_EXTERNAL_PROGRAM naming the Debian package', async () => {
    const err = await HaproxyBalancer.start({
      backends: [{ name: 'node1', address: '127.0.0.1', port: 1 }],
      binary: '/nonexistent/agentlink/haproxy',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('ERR_EXTERNAL_PROGRAM');
    expect((err as ToolError).message).toContain('/nonexistent/agentlink/haproxy');
    expect((err as ToolError).message).toContain('apt-get install haproxy');
  });

  it('rejects an empty backend list and a bad server name with ConfigError before touching any program', async () => {
    await expect(HaproxyBalancer.start({ backends: [], binary: '/nonexistent' })).rejects.toBeInstanceOf(ConfigError);
    await expect(
      HaproxyBalancer.start({ backends: [{ name: 'node 1\n  bind :80', address: '127.0.0.1', port: 1 }], binary: '/nonexistent' }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG', element: 'backends[0].name' });
  });
});

await describeIfLb('haproxy', 'HaproxyBalancer (real haproxy, leastconn, 3 backends)', () => {
  const servers: CountingServer[] = [];
  const clients: Client[] = [];
  let authd: CountingServer | undefined;
  let lb!: HaproxyBalancer;

  beforeAll(async () => {
    for (const name of ['node1', 'node2', 'node3']) servers.push(await CountingServer.start(name));
    authd = await CountingServer.start('authd-master');
    lb = await HaproxyBalancer.start({
      backends: backendsOf(servers),
      enrollmentBackends: backendsOf([authd]),
      checkIntervalMs: 500,
    });
  });
  afterEach(() => closeClients(clients));
  afterAll(async () => {
    closeClients(clients);
    await (lb as HaproxyBalancer | undefined)?.stop();
    for (const s of servers) await s.close();
    await authd?.close();
  });

  it('writes the Wazuh layout: tcp frontends, leastconn backends with checks, admin stats socket', () => {
    expect(lb.config).toContain('mode tcp');
    expect(lb.config).toContain('option redispatch');
    expect(lb.config).toContain('frontend wazuh_cluster_front');
    expect(lb.config).toContain(`bind 127.0.0.1:${lb.eventsPort}`);
    expect(lb.config).toMatch(/backend wazuh_cluster\n {4}balance leastconn\n {4}server node1 127\.0\.0\.1:\d+ check inter 500 fall 2 rise 2/);
    expect(lb.config).toContain(`stats socket ${lb.socketPath} mode 600 level admin`);
    expect(lb.eventsPort).toBeGreaterThan(0);
    expect(lb.enrollmentPort).toBeGreaterThan(0);
    expect(lb.eventsPort).not.toBe(lb.enrollmentPort);
  });

  it('spreads 300 long-lived clients evenly: each backend gets 100 ± 10 %', async () => {
    await openClients(lb.eventsPort, 300, { into: clients, concurrency: 20 });
    const byServer = countByServer(clients);
    for (const s of servers) {
      expect(byServer[s.name]).toBeGreaterThanOrEqual(90);
      expect(byServer[s.name]).toBeLessThanOrEqual(110);
      expect(s.active).toBe(byServer[s.name]);
    }
  });

  it('reports through the runtime API the same current sessions per server as the backends count', async () => {
    await openClients(lb.eventsPort, 60, { into: clients, concurrency: 10 });
    const sessions = await lb.runtime.sessionsPerServer();
    expect(Object.keys(sessions).sort()).toEqual(['node1', 'node2', 'node3']);
    for (const s of servers) expect(sessions[s.name]).toBe(s.active);
    expect(Object.values(sessions).reduce((a, b) => a + b, 0)).toBe(60);
    const states = await lb.runtime.serverStates();
    expect(states).toEqual({ node1: 'UP', node2: 'UP', node3: 'UP' });
  });

  it('sends no new connection to a drained server and uses it again once ready', async () => {
    await lb.runtime.setServerState('wazuh_cluster', 'node1', 'drain');
    expect((await lb.runtime.serverStates()).node1).toBe('DRAIN');
    const drained = await openClients(lb.eventsPort, 30, { into: clients, prefix: 'd' });
    expect(countByServer(drained).node1 ?? 0).toBe(0);
    await lb.runtime.setServerState('wazuh_cluster', 'node1', 'ready');
    expect((await lb.runtime.serverStates()).node1).toBe('UP');
    const after = await openClients(lb.eventsPort, 30, { into: clients, prefix: 'r' });
    // leastconn: node1 had none of the 30 drained-period clients, so it is now the least loaded
    expect(countByServer(after).node1).toBeGreaterThanOrEqual(15);
  });

  it('marks a killed backend DOWN within a few seconds and sends new connections to the others', async () => {
    const node3 = servers[2]!;
    await node3.kill();
    try {
      const waited = await lb.runtime.waitForServerState('wazuh_cluster', 'node3', 'DOWN', { timeoutMs: 8_000 });
      expect(waited).toBeLessThan(8_000);
      const fresh = await openClients(lb.eventsPort, 30, { into: clients, prefix: 'k' });
      const byServer = countByServer(fresh);
      expect(byServer.node3 ?? 0).toBe(0);
      expect((byServer.node1 ?? 0) + (byServer.node2 ?? 0)).toBe(30);
    } finally {
      await node3.restart();
    }
    await lb.runtime.waitForServerState('wazuh_cluster', 'node3', 'UP', { timeoutMs: 8_000 });
  });

  it('passes raw TCP through the enrollment frontend to the authd backend', async () => {
    const client = await openClient(lb.enrollmentPort!, 'enroll-1');
    clients.push(client);
    expect(client.server).toBe('authd-master');
    expect(authd!.sessions).toBeGreaterThanOrEqual(1);
  });

  it('adds a server at run time that then receives connections, and deletes it again', async () => {
    const node4 = await CountingServer.start('node4');
    try {
      await lb.runtime.addServer('wazuh_cluster', 'node4', '127.0.0.1', node4.port, { inter: 500 });
      await lb.runtime.waitForServerState('wazuh_cluster', 'node4', 'UP', { timeoutMs: 8_000 });
      await openClients(lb.eventsPort, 30, { into: clients, prefix: 'n' });
      expect(countByServer(clients).node4).toBeGreaterThan(0);
      closeClients(clients);
      await lb.runtime.deleteServer('wazuh_cluster', 'node4');
      expect(Object.keys(await lb.runtime.sessionsPerServer())).toEqual(['node1', 'node2', 'node3']);
    } finally {
      await node4.close();
    }
  });

  it('rejects runtime API commands HAProxy refuses with ToolError carrying its answer', async () => {
    const err = await lb.runtime.setServerState('wazuh_cluster', 'nosuchnode', 'drain').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).message).toMatch(/No such server/i);
    await expect(lb.runtime.sessionsPerServer('nosuchbackend')).rejects.toMatchObject({ code: 'ERR_USAGE' });
    await expect(lb.runtime.raw('show info\nshow stat')).rejects.toMatchObject({ code: 'ERR_USAGE' });
    const info = await lb.runtime.showInfo();
    expect(info.Name).toBe('HAProxy');
  });
});

await describeIfLb('haproxy', 'HaproxyBalancer life cycle (real haproxy)', () => {
  it('stops the process and removes its temp directory, idempotently', async () => {
    const backend = await CountingServer.start('solo');
    try {
      const before = processAndPipeHandles();
      const lb = await HaproxyBalancer.start({ backends: [{ name: 'solo', address: '127.0.0.1', port: backend.port }] });
      const { pid, dir, socketPath } = lb;
      expect(processAlive(pid)).toBe(true);
      expect(processAndPipeHandles().processes).toBe(before.processes + 1);
      expect(existsSync(socketPath)).toBe(true);
      expect(lb.enrollmentPort).toBeUndefined();
      await Promise.all([lb.stop(), lb.stop()]);
      await lb[Symbol.asyncDispose]();
      expect(lb.running).toBe(false);
      expect(processAlive(pid)).toBe(false);
      expect(existsSync(dir)).toBe(false);
      expect(processAndPipeHandles()).toEqual(before);
      await expect(new HaproxyRuntimeApi(socketPath).showInfo()).rejects.toMatchObject({ code: 'ERR_EXTERNAL_PROGRAM' });
    } finally {
      await backend.close();
    }
  });

  it('reports a config HAProxy rejects with ERR_EXTERNAL_PROGRAM and its own diagnostics', async () => {
    const err = await HaproxyBalancer.start({
      backends: [{ name: 'node1', address: '127.0.0.1', port: 1 }],
      extraConfig: { global: ['no-such-keyword-agentlink'] },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentlinkError);
    expect((err as ToolError).code).toBe('ERR_EXTERNAL_PROGRAM');
    expect((err as ToolError).message).toContain('no-such-keyword-agentlink');
  });

  it('fails with ERR_EXTERNAL_PROGRAM naming the conflict when a fixed frontend port is taken', async () => {
    const squatter = await CountingServer.start('squatter');
    try {
      const err = await HaproxyBalancer.start({
        backends: [{ name: 'node1', address: '127.0.0.1', port: 1 }],
        eventsPort: squatter.port,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolError);
      expect((err as ToolError).message).toMatch(/cannot bind|address already in use/i);
    } finally {
      await squatter.close();
    }
  });
});
