import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ToolError } from '../../../src/index.js';
import { NginxStreamBalancer } from '../../../src/testing/lb/index.js';
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

describe('NginxStreamBalancer without a usable binary', () => {
  it('rejects a binary path that does not exist with ERR_EXTERNAL_PROGRAM naming the Debian packages', async () => {
    const err = await NginxStreamBalancer.start({
      backends: [{ name: 'node1', address: '127.0.0.1', port: 1 }],
      binary: '/nonexistent/agentlink/nginx',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('ERR_EXTERNAL_PROGRAM');
    expect((err as ToolError).message).toContain('apt-get install nginx libnginx-mod-stream');
  });

  it('rejects a fail timeout nginx cannot express (not whole seconds) with ConfigError', async () => {
    await expect(
      NginxStreamBalancer.start({ backends: [{ name: 'node1', address: '127.0.0.1', port: 1 }], failTimeout: 1500, binary: '/nonexistent' }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

await describeIfLb('nginx', 'NginxStreamBalancer (real nginx stream, least_conn, 3 backends)', () => {
  const servers: CountingServer[] = [];
  const clients: Client[] = [];
  let authd: CountingServer | undefined;
  let lb!: NginxStreamBalancer;

  beforeAll(async () => {
    for (const name of ['node1', 'node2', 'node3']) servers.push(await CountingServer.start(name));
    authd = await CountingServer.start('authd-master');
    lb = await NginxStreamBalancer.start({ backends: backendsOf(servers), enrollmentBackends: backendsOf([authd]) });
  });
  afterEach(() => closeClients(clients));
  afterAll(async () => {
    closeClients(clients);
    await (lb as NginxStreamBalancer | undefined)?.stop({ graceful: false });
    for (const s of servers) await s.close();
    await authd?.close();
  });

  it('writes an http-less stream config with the module loaded and every path inside its temp dir', () => {
    expect(lb.config).toMatch(/^load_module \S+ngx_stream_module\.so;$/m);
    expect(lb.config).not.toMatch(/^\s*http\s*\{/m);
    expect(lb.config).toContain(`pid ${lb.dir}/nginx.pid;`);
    expect(lb.config).toContain(`error_log ${lb.dir}/error.log notice;`);
    expect(lb.config).toMatch(/upstream wazuh_cluster \{\n {8}least_conn;\n {8}server 127\.0\.0\.1:\d+ max_fails=1 fail_timeout=2s; # node1/);
    expect(lb.config).toContain(`listen 127.0.0.1:${lb.eventsPort};`);
    expect(lb.config).toContain(`listen 127.0.0.1:${lb.enrollmentPort};`);
  });

  it('spreads 300 long-lived clients by least_conn: each backend gets 100 ± 10 %', async () => {
    await openClients(lb.eventsPort, 300, { into: clients, concurrency: 20 });
    const byServer = countByServer(clients);
    for (const s of servers) {
      expect(byServer[s.name]).toBeGreaterThanOrEqual(90);
      expect(byServer[s.name]).toBeLessThanOrEqual(110);
      expect(s.active).toBe(byServer[s.name]);
    }
  });

  it('sends no new connection to a killed backend: every new client lands on a live one', async () => {
    const node3 = servers[2]!;
    await openClients(lb.eventsPort, 30, { into: clients, prefix: 'pre' });
    await node3.kill();
    try {
      // least_conn now sees node3 with no connections and tries it first; nginx must fail over
      const fresh = await openClients(lb.eventsPort, 30, { into: clients, prefix: 'k' });
      const byServer = countByServer(fresh);
      expect(byServer.node3 ?? 0).toBe(0);
      expect((byServer.node1 ?? 0) + (byServer.node2 ?? 0)).toBe(30);
      expect(await lb.errorLog()).toMatch(/connect\(\) failed \(111: Connection refused\)/);
    } finally {
      await node3.restart();
    }
  });

  it('passes raw TCP through the enrollment listener to the authd backend', async () => {
    const client = await openClient(lb.enrollmentPort!, 'enroll-1');
    clients.push(client);
    expect(client.server).toBe('authd-master');
  });
});

await describeIfLb('nginx', 'NginxStreamBalancer life cycle (real nginx)', () => {
  it('stops master and worker, removes its temp directory, idempotently, even with connections open', async () => {
    const backend = await CountingServer.start('solo');
    const clients: Client[] = [];
    try {
      const before = processAndPipeHandles();
      const lb = await NginxStreamBalancer.start({ backends: [{ name: 'solo', address: '127.0.0.1', port: backend.port }] });
      const { pid, dir } = lb;
      expect(lb.enrollmentPort).toBeUndefined();
      await openClients(lb.eventsPort, 5, { into: clients });
      expect(processAlive(pid)).toBe(true);
      expect(processAndPipeHandles().processes).toBe(before.processes + 1);
      await Promise.all([lb.stop(), lb.stop()]);
      await lb[Symbol.asyncDispose]();
      expect(lb.running).toBe(false);
      expect(processAlive(pid)).toBe(false);
      expect(existsSync(dir)).toBe(false);
      expect(processAndPipeHandles()).toEqual(before);
      // the worker went with the master: nothing listens on the port any more
      await expect(openClient(lb.eventsPort, 'late', 2_000)).rejects.toThrow();
    } finally {
      closeClients(clients);
      await backend.close();
    }
  });

  it('reports a config nginx rejects with ERR_EXTERNAL_PROGRAM and its own diagnostics', async () => {
    const err = await NginxStreamBalancer.start({
      backends: [{ name: 'node1', address: '127.0.0.1', port: 1 }],
      extraConfig: { stream: ['no_such_directive_agentlink on;'] },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('ERR_EXTERNAL_PROGRAM');
    expect((err as ToolError).message).toContain('no_such_directive_agentlink');
  });
});
