/**
 * The Enginsight acceptance procedure for a balancer in front of two app servers, automated and
 * measured, through real HAProxy and real nginx: stop app server 1, check that app server 2 still
 * receives data and every host stays active; start it again; repeat for app server 2. The hosts
 * are plain reconnecting TCP clients sending heartbeats (no Wazuh protocol yet: this checks the
 * harness and the balancers, not the agent).
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { HaproxyBalancer, NginxStreamBalancer } from '../../src/testing/lb/index.js';
import { describeIfLb } from '../helpers/require-lb.js';
import { CountingServer, waitFor } from '../integration/lb/backends.js';

const HOSTS = 40;
const HEARTBEAT_MS = 200;
const RECONNECT_MS = 100;

/** A host that keeps one connection through the balancer, reconnects when it breaks and sends heartbeats. */
class Host {
  server: string | undefined;
  reconnects = 0;
  #socket: Socket | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    readonly id: string,
    readonly port: number,
  ) {
    this.#connect();
  }

  #connect(): void {
    const socket = connect({ host: '127.0.0.1', port: this.port });
    this.#socket = socket;
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`hello ${this.id}\n`));
    socket.on('data', (chunk: string) => {
      if (this.server !== undefined) return;
      buffered += chunk;
      const at = buffered.indexOf('\n');
      if (at < 0) return;
      this.server = buffered.slice(0, at);
      this.#heartbeat = setInterval(() => socket.write(`hb ${this.id}\n`), HEARTBEAT_MS);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(this.#heartbeat);
      this.server = undefined;
      if (this.#stopped) return;
      this.reconnects++;
      this.#retry = setTimeout(() => this.#connect(), RECONNECT_MS);
    });
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#retry);
    this.#socket?.destroy();
  }
}

const hosts: Host[] = [];
const servers: CountingServer[] = [];
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const h of hosts.splice(0)) h.stop();
  for (const stop of stops.splice(0)) await stop();
  for (const s of servers.splice(0)) await s.close();
});

/** Every host is connected to one of `live` and that backend heard its heartbeat in the last second. */
function allActiveOn(live: readonly CountingServer[]): boolean {
  const now = Date.now();
  return hosts.every((h) => {
    const backend = live.find((s) => s.name === h.server);
    return backend !== undefined && now - (backend.lastSeen.get(h.id) ?? 0) < 1_000;
  });
}

async function enginsightProcedure(
  balancerName: string,
  port: number,
  app1: CountingServer,
  app2: CountingServer,
  hooks: { afterKill?: (s: CountingServer) => Promise<void>; waitUsable: (s: CountingServer) => Promise<void> },
): Promise<void> {
  for (let i = 0; i < HOSTS; i++) hosts.push(new Host(`h${i}`, port));
  await waitFor(() => allActiveOn([app1, app2]), 10_000, 'every host active');
  const initial = { app1: app1.active, app2: app2.active };
  expect(initial.app1 + initial.app2).toBe(HOSTS);
  expect(Math.abs(initial.app1 - initial.app2)).toBeLessThanOrEqual(HOSTS * 0.2);

  const measured: Record<string, number> = {};
  for (const [down, up] of [
    [app1, app2],
    [app2, app1],
  ] as const) {
    await down.kill();
    measured[`${down.name} down → all hosts active on ${up.name} (ms)`] = await waitFor(() => allActiveOn([up]), 10_000, `every host active on ${up.name}`);
    expect(down.active).toBe(0);
    expect(up.active).toBe(HOSTS);
    await hooks.afterKill?.(down);
    expect(allActiveOn([up])).toBe(true);
    await down.restart();
    await hooks.waitUsable(down);
    // the restarted server takes new hosts again (least connections: it has none). One at a time:
    // nginx lets a single probe connection through after fail_timeout and skips the server for
    // connections arriving while that probe is still connecting.
    const extra: Host[] = [];
    for (let i = 0; i < 4; i++) {
      const h = new Host(`${down.name}-new${i}`, port);
      extra.push(h);
      hosts.push(h);
      await waitFor(() => h.server !== undefined, 5_000, `new host connected after ${down.name} restart`);
    }
    expect(extra.map((h) => h.server)).toEqual(extra.map(() => down.name));
    for (const h of extra) h.stop();
    hosts.splice(hosts.length - extra.length, extra.length);
  }
  console.info(`[lb-harness] ${balancerName}: ${HOSTS} hosts, ${JSON.stringify(measured)}`);
}

await describeIfLb('haproxy', 'Enginsight acceptance procedure through real HAProxy', () => {
  it('keeps every host active on the surviving app server while the other is stopped, in turn', async () => {
    const app1 = await CountingServer.start('app1');
    servers.push(app1);
    const app2 = await CountingServer.start('app2');
    servers.push(app2);
    const lb = await HaproxyBalancer.start({
      backends: [app1, app2].map((s) => ({ name: s.name, address: '127.0.0.1', port: s.port })),
      checkIntervalMs: 300,
    });
    stops.push(() => lb.stop());
    await enginsightProcedure('haproxy', lb.eventsPort, app1, app2, {
      // the health check sees the stopped server: DOWN, then UP again once restarted
      afterKill: async (s) => void (await lb.runtime.waitForServerState('wazuh_cluster', s.name, 'DOWN', { timeoutMs: 8_000 })),
      waitUsable: async (s) => void (await lb.runtime.waitForServerState('wazuh_cluster', s.name, 'UP', { timeoutMs: 8_000 })),
    });
  });
});

await describeIfLb('nginx', 'Enginsight acceptance procedure through real nginx stream', () => {
  it('keeps every host active on the surviving app server while the other is stopped, in turn', async () => {
    const app1 = await CountingServer.start('app1');
    servers.push(app1);
    const app2 = await CountingServer.start('app2');
    servers.push(app2);
    const failTimeout = 1_000;
    const lb = await NginxStreamBalancer.start({
      backends: [app1, app2].map((s) => ({ name: s.name, address: '127.0.0.1', port: s.port })),
      failTimeout,
    });
    stops.push(() => lb.stop({ graceful: false }));
    // nginx (open source) has no health checks: a failed server is skipped for fail_timeout, then tried
    // again. nginx compares whole seconds, so "skipped for 1 s" can last up to 2 s after the failure.
    await enginsightProcedure('nginx', lb.eventsPort, app1, app2, {
      waitUsable: () => new Promise((resolve) => setTimeout(resolve, failTimeout + 1_200)),
    });
  });
});
