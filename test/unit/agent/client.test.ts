import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentClient, AGENT_TRANSITIONS } from '../../../src/index.js';
import type { AgentClientOptions, AgentMessage, TransportFactory } from '../../../src/index.js';
import { MockManager, createMemoryNetwork } from '../../../src/testing/index.js';
import type { MemoryNetwork } from '../../../src/testing/index.js';
import { aesDecrypt, deriveEncryptionKey } from '../../../src/index.js';
import { inflateSync } from 'node:zlib';

const KEY = { id: '001', name: 'agent1', ip: 'any', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };

interface Harness {
  network: MemoryNetwork;
  attempts: { t: number; address: string }[];
  factory: TransportFactory;
}

function harness(): Harness {
  const network = createMemoryNetwork();
  const attempts: { t: number; address: string }[] = [];
  const factory: TransportFactory = (target, options) => {
    attempts.push({ t: Date.now(), address: target.address });
    return network.factory(target, options);
  };
  return { network, attempts, factory };
}

function options(servers: string[], extra: Partial<AgentClientOptions> = {}): AgentClientOptions {
  return {
    agent: KEY,
    servers: servers.map((address) => ({ address, port: 1514 })),
    uname: 'Linux |test |6.1 |#1 |x86_64',
    ...extra,
  };
}

/** A MockManager on the harness's memory network, with what it received and its connections. */
interface Manager {
  m: MockManager;
  /** Control messages received, with their time. */
  controls: { msg: AgentMessage; at: number }[];
  /** Connection numbers opened, and those closed. */
  opened: number[];
  closed: Set<number>;
  /** Events received, as `queue:location:message`. */
  events(): string[];
  count(type: AgentMessage['type']): number;
}

const managers: MockManager[] = [];
async function manager(h: Harness, host: string): Promise<Manager> {
  const m = new MockManager({ keys: [KEY], host, port: 1514, listener: h.network.listenerFactory });
  managers.push(m);
  const out: Manager = {
    m,
    controls: [],
    opened: [],
    closed: new Set(),
    events: () => m.receivedEvents().map((e) => `${e.queue}:${e.location}:${e.message}`),
    count: (type) => out.controls.filter((c) => c.msg.type === type).length,
  };
  m.on('control', (_id, msg) => out.controls.push({ msg, at: Date.now() }));
  m.on('connection', (p) => out.opened.push(p.connectionId));
  m.on('disconnection', (p) => out.closed.add(p.connectionId));
  await m.start();
  return out;
}

const clients: AgentClient[] = [];
function client(opts: AgentClientOptions, h: Harness): AgentClient {
  const c = new AgentClient(opts, { transport: h.factory });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop({ drainTimeout: 0 });
  for (const m of managers.splice(0)) await m.close();
  vi.useRealTimers();
});

describe('AgentClient compressionLevel', () => {
  /** The zlib stream inside an AES payload of agent 001: decrypted, `!` padding removed. */
  function zlibStream(payload: Buffer): Buffer {
    expect(payload.toString('latin1', 0, 10)).toBe('!001!#AES:');
    const padded = aesDecrypt(deriveEncryptionKey(KEY).aes, payload.subarray(10));
    let z = 0;
    while (padded[z] === 0x21) z++;
    return padded.subarray(z);
  }

  it('sends stored blocks at level 0 and level-9 streams by default, and the manager reads both', async () => {
    const h = harness();
    for (const [level, header] of [
      [0, 0x7801],
      [undefined, 0x78da],
    ] as const) {
      // what the agent hands to its transport, before framing
      const raw: Buffer[] = [];
      const factory: TransportFactory = (target, o) => {
        const t = h.network.factory(target, o);
        const send = t.send.bind(t);
        t.send = (p: Buffer) => {
          raw.push(Buffer.from(p));
          return send(p);
        };
        return t;
      };
      const m = await manager(h, `m${level ?? 9}`);
      const c = new AgentClient(options([`m${level ?? 9}`], level === undefined ? {} : { compressionLevel: level }), { transport: factory });
      c.on('error', () => {});
      clients.push(c);
      await c.start();
      c.send('x'.repeat(300), 'app');
      await vi.advanceTimersByTimeAsync(50);
      expect(m.events().filter((e) => e.startsWith('1:app:'))).toEqual([`1:app:${'x'.repeat(300)}`]);
      expect(raw.length).toBeGreaterThanOrEqual(3);
      for (const p of raw) {
        const z = zlibStream(p);
        expect(z.readUInt16BE(0)).toBe(header);
        expect(inflateSync(z).length).toBeGreaterThan(53);
      }
      if (level === 0) expect(zlibStream(raw.at(-1)!).length).toBe(2 + 5 + 53 + 306 + 4);
      else expect(zlibStream(raw.at(-1)!).length).toBeLessThan(120);
    }
  });

  it('refuses a level outside 0 to 9 with ERR_CONFIG', () => {
    for (const compressionLevel of [10, -1, 2.5]) {
      expect(() => new AgentClient(options(['m1'], { compressionLevel }))).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', element: 'compressionLevel' }));
    }
  });
});

describe('AgentClient state machine', () => {
  it('walks idle -> connecting -> handshaking -> connected, then closing -> closed on stop', async () => {
    const h = harness();
    await manager(h, 'm1');
    const c = client(options(['m1']), h);
    const seen: string[] = [];
    c.on('stateChange', ({ from, to }) => seen.push(`${from}>${to}`));
    await c.start();
    expect(c.state).toBe('connected');
    await c.stop();
    expect(seen).toEqual(['idle>connecting', 'connecting>handshaking', 'handshaking>connected', 'connected>closing', 'closing>closed']);
    for (const step of seen) {
      const [from, to] = step.split('>') as [keyof typeof AGENT_TRANSITIONS, keyof typeof AGENT_TRANSITIONS];
      expect(AGENT_TRANSITIONS[from]).toContain(to);
    }
  });

  it('sends the startup with the version JSON, the Agent started event and a keepalive at once', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1']), h);
    await c.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(m.controls[0]!.msg).toMatchObject({ type: 'startup', version: 'v4.14.7' });
    expect(m.events()).toContain("1:wazuh-agent:ossec: Agent started: 'agent1->any'.");
    expect(m.count('keepalive')).toBe(1);
    const rec = m.m.agent(KEY.id)!;
    expect(rec.uname).toBe('Linux |test |6.1 |#1 |x86_64 - Wazuh v4.14.7');
    expect(rec.mergedSum).toBe('x');
  });

  it('logs the state changes and the connect to a logger it is given (and builds nothing for the silent one)', async () => {
    const h = harness();
    await manager(h, 'm1');
    const lines: string[] = [];
    const logger = {
      debug: (_o: object | string, msg?: string) => void lines.push(`debug ${msg}`),
      info: (o: object | string, msg?: string) => void lines.push(`info ${msg} ${JSON.stringify(o)}`),
      warn: () => {},
      error: () => {},
      child: () => logger,
    };
    const c = client(options(['m1'], { logger }), h);
    await c.start();
    expect(lines).toEqual([
      'debug idle -> connecting',
      'debug connecting -> handshaking',
      'debug handshaking -> connected',
      'info Connected to the server {"server":"m1:1514"}',
    ]);
    await c.stop();
  });

  it('sends each client its own version in the startup, whichever version the client before it had', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    for (const version of ['v4.9.0', 'v4.14.7', 'v4.9.0', undefined]) {
      const c = client(options(['m1'], version === undefined ? {} : { version }), h);
      await c.start();
      await c.stop();
    }
    const startups = m.controls.filter((c) => c.msg.type === 'startup').map((c) => (c.msg as { version?: string }).version);
    expect(startups).toEqual(['v4.9.0', 'v4.14.7', 'v4.9.0', 'v4.14.7']);
  });

  it('stop() sends the shutdown message and leaves no timers', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1'], { forceReconnectInterval: 3_600_000 }), h);
    await c.start();
    await c.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(m.controls.at(-1)!.msg.type).toBe('shutdown');
    await m.m.close(); // the manager's own housekeeping timer is not the agent's
    expect(vi.getTimerCount()).toBe(0);
  });

  it('start() rejects with ERR_ABORTED when stopped before any server answered', async () => {
    const h = harness();
    const c = client(options(['nowhere']), h);
    const started = c.start();
    await vi.advanceTimersByTimeAsync(25_000);
    await c.stop();
    await expect(started).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('AgentClient wazuh strategy', () => {
  it('tries each of three servers 5 times 10 s apart, then the next, wrapping around', async () => {
    const h = harness();
    const c = client(options(['a', 'b', 'c']), h);
    void c.start().catch(() => {});
    await vi.advanceTimersByTimeAsync(160_000);
    const got = h.attempts.map((a) => `${a.t / 1000}:${a.address}`);
    const expected: string[] = [];
    const order = ['a', 'b', 'c', 'a'];
    for (let s = 0; s < 4; s++) for (let i = 0; i < 5; i++) {
      const t = s * 50 + i * 10;
      if (t <= 160) expected.push(`${t}:${order[s]}`);
    }
    expect(got).toEqual(expected);
  });

  it('reconnects to the server it was using first, then fails over to the next', async () => {
    const h = harness();
    const a = await manager(h, 'a');
    await manager(h, 'b');
    const c = client(options(['a', 'b']), h);
    const failovers: string[] = [];
    c.on('failover', ({ from, to }) => failovers.push(`${from.address}->${to.address}`));
    await c.start();
    h.attempts.length = 0;
    await a.m.setFaults({ refuseConnections: true });
    a.m.disconnectAgents([KEY.id]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.attempts.map((x) => `${x.t / 1000}:${x.address}`)).toEqual(['0:a', '10:a', '20:a', '30:a', '40:a', '50:b']);
    expect(c.state).toBe('connected');
    expect(c.server!.address).toBe('b');
    expect(failovers).toEqual(['a->b']);
  });
});

describe('AgentClient backoff strategy', () => {
  it('moves to the next server after each failure and waits inside the jitter bounds per round', async () => {
    const h = harness();
    const c = client(
      options(['a', 'b'], { reconnect: { strategy: 'backoff', initialDelay: 1000, maxDelay: 8000, factor: 2, jitter: 0.5 } }),
      h,
    );
    const delays: { delay: number; server: string }[] = [];
    c.on('reconnectScheduled', ({ delay, server }) => delays.push({ delay, server: server.address }));
    void c.start().catch(() => {});
    await vi.advanceTimersByTimeAsync(60_000);
    const boundaries = delays.filter((d) => d.delay > 0);
    expect(boundaries.length).toBeGreaterThanOrEqual(4);
    boundaries.slice(0, 5).forEach((d, round) => {
      const base = Math.min(8000, 1000 * 2 ** round);
      expect(d.delay).toBeGreaterThanOrEqual(base * 0.5);
      expect(d.delay).toBeLessThanOrEqual(base);
    });
    const servers = h.attempts.map((a) => a.address);
    expect(servers.slice(0, 6)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
  });
});

describe('AgentClient keepalive and silence', () => {
  it('sends a keepalive right after the ACK and then every notifyTime', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1'], { notifyTime: 10_000 }), h);
    await c.start();
    await vi.advanceTimersByTimeAsync(0);
    const times = () => m.controls.filter((r) => r.msg.type === 'keepalive').map((r) => r.at);
    expect(times()).toEqual([0]);
    await vi.advanceTimersByTimeAsync(50_000);
    expect(times()).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
  });

  it('treats a silent server as lost after timeReconnect and reconnects', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1'], { notifyTime: 10_000, timeReconnect: 30_000 }), h);
    const lost: { code: string; t: number }[] = [];
    c.on('disconnected', ({ reason }) => lost.push({ code: reason.code, t: Date.now() }));
    await c.start();
    await m.m.setFaults({ withholdAcks: true });
    await vi.advanceTimersByTimeAsync(29_000);
    expect(lost).toEqual([]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(lost).toEqual([{ code: 'ERR_SERVER_SILENT', t: 30_000 }]);
    expect(m.closed.has(m.opened[0]!)).toBe(true);
  });

  it('never fires the silence timer on a chatty server', async () => {
    const h = harness();
    await manager(h, 'm1');
    const c = client(options(['m1'], { notifyTime: 10_000, timeReconnect: 30_000 }), h);
    const lost: string[] = [];
    c.on('disconnected', ({ reason }) => lost.push(reason.code));
    await c.start();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(lost).toEqual([]);
    expect(c.stats().connects).toBe(1);
  });
});

describe('AgentClient events and the buffer', () => {
  it('delivers events queued while disconnected, in order, after the reconnect', async () => {
    const h = harness();
    const a = await manager(h, 'a');
    const b = await manager(h, 'b');
    const c = client(options(['a', 'b'], { reconnect: { strategy: 'backoff', initialDelay: 100, jitter: 0 } }), h);
    await c.start();
    for (let i = 0; i < 5; i++) c.send(`before ${i}`, 'app');
    await vi.advanceTimersByTimeAsync(1000);
    await a.m.setFaults({ refuseConnections: true });
    a.m.disconnectAgents([KEY.id]);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 0; i < 20; i++) c.send(`during ${i}`, 'app');
    await vi.advanceTimersByTimeAsync(5000);
    const all = [...a.events(), ...b.events()].filter((e) => e.startsWith('1:app:'));
    expect(all).toEqual([...[0, 1, 2, 3, 4].map((i) => `1:app:before ${i}`), ...Array.from({ length: 20 }, (_, i) => `1:app:during ${i}`)]);
  });

  it('escapes the location of events', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1']), h);
    await c.start();
    c.sendEvent({ queue: '1', location: 'C:\\logs\\a|b.log', message: 'x' });
    await vi.advanceTimersByTimeAsync(100);
    // The manager splits queue:location:message at the first unescaped ':' and unescapes: only a
    // correctly escaped location comes back whole.
    expect(m.events()).toContain('1:C:\\logs\\a|b.log:x');
  });

  it('counts and emits drops when the buffer is full', async () => {
    const h = harness();
    const c = client(options(['nowhere'], { buffer: { queueSize: 10 } }), h);
    const drops: string[] = [];
    c.on('drop', ({ reason }) => drops.push(reason));
    void c.start().catch(() => {});
    let accepted = 0;
    for (let i = 0; i < 15; i++) if (c.send(`e${i}`)) accepted++;
    expect(accepted).toBe(10);
    expect(drops).toEqual(['full', 'full', 'full', 'full', 'full']);
    expect(c.stats().buffer.dropped).toBe(5);
  });
});

describe('AgentClient manager commands and bad input', () => {
  it('reconnects on #!-force_reconnect', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1']), h);
    let forced = 0;
    c.on('forceReconnect', () => forced++);
    await c.start();
    m.m.forceReconnect([KEY.id]);
    await vi.advanceTimersByTimeAsync(100);
    expect(forced).toBe(1);
    expect(m.opened.length).toBe(2);
    expect(m.closed.has(m.opened[0]!)).toBe(true);
    expect(c.state).toBe('connected');
  });

  it('answers agent getconfig and getstate requests built in', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1'], { notifyTime: 15_000 }), h);
    await c.start();
    m.m.send(KEY.id, '#!-req 5e2f1a9c agent getconfig client');
    m.m.send(KEY.id, '#!-req 00ff agent getstate');
    m.m.send(KEY.id, '#!-req 01 agent getconfig nothing');
    await vi.advanceTimersByTimeAsync(10);
    const replies = m.controls.flatMap(({ msg }) => (msg.type === 'request_reply' ? [`#!-req ${msg.counter} ${msg.response}`] : []));
    expect(replies[0]).toMatch(/^#!-req 5e2f1a9c ok \{"client":\{/);
    expect(JSON.parse(replies[0]!.slice('#!-req 5e2f1a9c ok '.length)).client.notify_time).toBe(15);
    expect(JSON.parse(replies[1]!.slice('#!-req 00ff '.length))).toMatchObject({ error: 0, data: { status: 'connected' } });
    expect(replies[2]).toBe('#!-req 01 err Could not get requested section');
  });

  it('counts a failed attempt when the manager answers the startup with #!-err', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    await m.m.setFaults({ versionError: 'Agent version must be lower or equal to manager version' });
    const c = client(options(['m1']), h);
    const errors: { code: string; managerMessage?: string }[] = [];
    c.on('error', (e) => errors.push({ code: e.code, managerMessage: (e as { managerMessage?: string }).managerMessage }));
    void c.start().catch(() => {});
    await vi.advanceTimersByTimeAsync(100);
    expect(errors[0]).toEqual({ code: 'ERR_HANDSHAKE_REJECTED', managerMessage: 'Agent version must be lower or equal to manager version' });
    expect(c.state).toBe('reconnecting');
  });

  it('counts and reports an undecryptable message from the manager and keeps the connection, as wazuh-agentd does', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1'], { notifyTime: 10_000 }), h);
    const errors: string[] = [];
    c.on('error', (e) => errors.push(e.code));
    await c.start();
    await vi.advanceTimersByTimeAsync(0); // the first keepalive and its ACK
    // The answer to the next keepalive is a frame with the AES header and random ciphertext (once).
    await m.m.setFaults({ corruptFrames: true, corruptMode: 'ciphertext' });
    c.once('error', () => void m.m.clearFaults());
    await vi.advanceTimersByTimeAsync(10_100);
    expect(c.stats().decodeErrors).toBe(1);
    // Random ciphertext: nearly always a bad padding or first byte (ERR_DECODE_DECRYPT), rarely a bad zlib stream.
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^ERR_DECODE_/);
    expect(m.opened.length).toBe(1);
    expect(c.stats().disconnects).toBe(0);
    expect(c.state).toBe('connected');
  });

  it('delivers #!-execd as an activeResponse event with its JSON', async () => {
    const h = harness();
    const m = await manager(h, 'm1');
    const c = client(options(['m1']), h);
    const got: unknown[] = [];
    c.on('activeResponse', ({ json }) => got.push(json));
    await c.start();
    m.m.activeResponse(KEY.id, { version: 1, command: 'firewall-drop0' });
    await vi.advanceTimersByTimeAsync(10);
    expect(got).toEqual([{ version: 1, command: 'firewall-drop0' }]);
  });
});
