import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentlinkError, ConnectionError, DecodeError, StateError } from '../../../src/index.js';
import { createMemoryNetwork } from '../../../src/testing/index.js';
import type { MemoryConnection, MemoryNetwork } from '../../../src/testing/index.js';
import type { Transport, TransportTarget } from '../../../src/index.js';

const TCP: TransportTarget = { address: 'manager', port: 1514, protocol: 'tcp' };
const UDP: TransportTarget = { address: 'manager', port: 1514, protocol: 'udp' };

/** Records every event of a transport. */
function record(t: Transport): { payloads: string[]; errors: AgentlinkError[]; closes: (AgentlinkError | undefined)[] } {
  const log = { payloads: [] as string[], errors: [] as AgentlinkError[], closes: [] as (AgentlinkError | undefined)[] };
  t.on('payload', (p) => log.payloads.push(p.toString()));
  t.on('error', (e) => log.errors.push(e));
  t.on('close', (e) => log.closes.push(e));
  return log;
}

/** Flushes pending microtask deliveries without moving fake time. */
async function flush(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

async function rejection(p: Promise<unknown>): Promise<AgentlinkError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AgentlinkError);
    return err as AgentlinkError;
  }
  throw new Error('expected a rejection');
}

let net: MemoryNetwork;

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  net = createMemoryNetwork();
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

async function connected(target = TCP, connectTimeout = 1000): Promise<{ t: Transport; conn: MemoryConnection }> {
  const t = net.factory(target, { connectTimeout });
  await t.connect();
  const conn = net.connections().at(-1);
  if (!conn) throw new Error('no connection');
  return { t, conn };
}

describe('memory network over TCP', () => {
  it('delivers client payloads to the server in order, asynchronously, as copies', async () => {
    const server = net.listen('manager', 1514);
    const seen: string[] = [];
    server.on('connection', (c) => c.on('payload', (p) => seen.push(p.toString())));
    const { t, conn } = await connected();
    const buf = Buffer.from('one');
    expect(t.send(buf)).toBe(true);
    t.send(Buffer.from('two'));
    t.send(Buffer.from('three'));
    buf.write('XXX');
    expect(seen).toEqual([]);
    await flush();
    expect(seen).toEqual(['one', 'two', 'three']);
    expect(conn.received.map(String)).toEqual(['one', 'two', 'three']);
    expect(t.bytesOut).toBe(3 + 3 + 5 + 3 * 4);
    t.close();
    await flush();
  });

  it('delivers server payloads to the client in order', async () => {
    const server = net.listen('manager', 1514);
    server.on('connection', (c) => {
      c.send(Buffer.from('a'));
      c.send(Buffer.from('b'));
    });
    const t = net.factory(TCP, { connectTimeout: 0 });
    const log = record(t);
    await t.connect();
    net.connections()[0]!.send(Buffer.from('c'));
    await flush();
    expect(log.payloads).toEqual(['a', 'b', 'c']);
    expect(t.bytesIn).toBe(3 + 3 * 4);
    t.close();
    await flush();
  });

  it('emits the connection to the server before connect() resolves, with the client address', async () => {
    const server = net.listen('manager', 1514);
    const order: string[] = [];
    server.on('connection', (c) => order.push(`connection from ${c.agentAddress}`));
    const t = net.factory(TCP, { connectTimeout: 0, localAddress: '127.0.0.9' });
    await t.connect().then(() => order.push('connected'));
    expect(order).toEqual(['connection from 127.0.0.9', 'connected']);
    expect(t.localAddress).toBe('127.0.0.9');
    t.destroy();
    await flush();
  });

  it('reports the default local address when none is given', async () => {
    net = createMemoryNetwork({ localAddress: '10.1.2.3' });
    net.listen('manager', 1514);
    const t = net.factory(TCP, { connectTimeout: 0 });
    expect(t.localAddress).toBeUndefined();
    await t.connect();
    expect(t.localAddress).toBe('10.1.2.3');
    t.close();
    await flush();
  });

  it('rejects a connect with no listener with ERR_CONNECT, asynchronously, and emits no close', async () => {
    const t = net.factory(TCP, { connectTimeout: 1000 });
    const log = record(t);
    const p = t.connect();
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    expect(settled).toBe(false);
    const err = await rejection(p);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe('ERR_CONNECT');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect((err as ConnectionError).server).toEqual(TCP);
    await flush();
    expect(log.closes).toEqual([]);
    expect(t.send(Buffer.from('x'))).toBe(false);
  });

  it('refuses connects while server.refuse is set or the address is unreachable with refuse', async () => {
    const server = net.listen('manager', 1514);
    server.refuse = true;
    expect((await rejection(net.factory(TCP, { connectTimeout: 0 }).connect())).code).toBe('ERR_CONNECT');
    server.refuse = false;
    net.setUnreachable('manager', 1514, 'refuse');
    expect((await rejection(net.factory(TCP, { connectTimeout: 0 }).connect())).code).toBe('ERR_CONNECT');
    net.setUnreachable('manager', 1514, false);
    const t = net.factory(TCP, { connectTimeout: 0 });
    await t.connect();
    expect(net.connections()).toHaveLength(1);
    t.close();
    await flush();
  });

  it('refuses connects after the server closed, but keeps established connections', async () => {
    const server = net.listen('manager', 1514);
    const { t, conn } = await connected();
    server.close();
    expect(server.closed).toBe(true);
    expect((await rejection(net.factory(TCP, { connectTimeout: 0 }).connect())).code).toBe('ERR_CONNECT');
    t.send(Buffer.from('still here'));
    await flush();
    expect(conn.received.map(String)).toEqual(['still here']);
    t.close();
    await flush();
  });

  it('lets a blackholed connect hang until connectTimeout on the clock, then fails with ERR_CONNECT_TIMEOUT', async () => {
    net.listen('manager', 1514);
    net.setUnreachable('manager', 1514, 'blackhole');
    const t = net.factory(TCP, { connectTimeout: 5000 });
    const p = t.connect();
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(4999);
    expect(settled).toBe(false);
    expect(net.connections()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    const err = await rejection(p);
    expect(err.code).toBe('ERR_CONNECT_TIMEOUT');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('lets a blackholed connect with no deadline hang until its signal aborts', async () => {
    net.setUnreachable('manager', 1514, 'blackhole');
    const ac = new AbortController();
    const t = net.factory(TCP, { connectTimeout: 0, signal: ac.signal });
    const p = t.connect();
    await vi.advanceTimersByTimeAsync(3_600_000);
    ac.abort(new Error('stop'));
    const err = await rejection(p);
    expect(err.code).toBe('ERR_ABORTED');
    expect((err.cause as Error).message).toBe('stop');
  });

  it('aborts a pending connect on close() and rejects a connect with an aborted signal', async () => {
    net.setUnreachable('manager', 1514, 'blackhole');
    const t = net.factory(TCP, { connectTimeout: 1000 });
    const p = t.connect();
    t.close();
    expect((await rejection(p)).code).toBe('ERR_ABORTED');
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(net.factory(TCP, { connectTimeout: 1000, signal: ac.signal }).connect())).code).toBe('ERR_ABORTED');
  });

  it('rejects a second connect() with ERR_INVALID_STATE', async () => {
    net.listen('manager', 1514);
    const t = net.factory(TCP, { connectTimeout: 0 });
    await t.connect();
    const err = await rejection(t.connect());
    expect(err).toBeInstanceOf(StateError);
    expect(err.code).toBe('ERR_INVALID_STATE');
    t.close();
    await flush();
  });

  it('closes the client with ERR_CONNECTION_LOST once when the server ends, after the payloads sent before', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    const log = record(t);
    let connCloses = 0;
    conn.on('close', () => connCloses++);
    conn.send(Buffer.from('last words'));
    conn.end();
    conn.end();
    expect(conn.closed).toBe(true);
    conn.send(Buffer.from('ignored'));
    await flush();
    expect(log.payloads).toEqual(['last words']);
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]).toBeInstanceOf(ConnectionError);
    expect(log.closes[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect(log.closes[0]!.message).toContain('connection closed by the server');
    expect(connCloses).toBe(1);
    expect(t.send(Buffer.from('x'))).toBe(false);
    t.close();
    t.destroy();
    await flush();
    expect(log.closes).toHaveLength(1);
  });

  it('drops undelivered server payloads on reset and reports ECONNRESET', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    const log = record(t);
    conn.send(Buffer.from('lost'));
    conn.reset();
    await flush();
    expect(log.payloads).toEqual([]);
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect((log.closes[0]!.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  it('close() delivers pending client payloads, closes the server side, and emits close once with no error', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    const log = record(t);
    const order: string[] = [];
    conn.on('payload', (p) => order.push(p.toString()));
    conn.on('close', () => order.push('server close'));
    t.on('close', () => order.push('client close'));
    t.send(Buffer.from('shutdown'));
    t.close();
    t.close();
    expect(t.send(Buffer.from('too late'))).toBe(false);
    conn.send(Buffer.from('ignored by a closing client'));
    await flush();
    expect(order).toEqual(['shutdown', 'server close', 'client close']);
    expect(log.closes).toEqual([undefined]);
    expect(log.payloads).toEqual([]);
    expect(conn.closed).toBe(true);
  });

  it('destroy() drops pending client payloads', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    const log = record(t);
    t.send(Buffer.from('dropped'));
    t.destroy();
    await flush();
    expect(conn.received).toEqual([]);
    expect(conn.closed).toBe(true);
    expect(log.closes).toEqual([undefined]);
  });

  it('closes the client with ERR_DECODE_FRAME_TOO_LARGE when the server sends more than 65536 bytes', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    const log = record(t);
    conn.send(Buffer.from('fine'));
    conn.send(Buffer.alloc(65537));
    conn.send(Buffer.from('never seen'));
    await flush();
    expect(log.payloads).toEqual(['fine']);
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]).toBeInstanceOf(DecodeError);
    expect(log.closes[0]!.code).toBe('ERR_DECODE_FRAME_TOO_LARGE');
    expect(conn.closed).toBe(true);
  });

  it('refuses to send a payload above 65536 bytes with an error event', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    const log = record(t);
    expect(t.send(Buffer.alloc(65537))).toBe(false);
    expect(t.send(Buffer.alloc(65536))).toBe(true);
    await flush();
    expect(log.errors.map((e) => e.code)).toEqual(['ERR_MESSAGE_TOO_LARGE']);
    expect(conn.received.map((b) => b.length)).toEqual([65536]);
    t.close();
    await flush();
  });

  it('loses everything both ways on a blackholed connection, so a server close leaves it half-open', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    const log = record(t);
    net.setUnreachable('manager', 1514, 'blackhole');
    expect(t.send(Buffer.from('into the void'))).toBe(true);
    conn.send(Buffer.from('also lost'));
    conn.end();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(conn.received).toEqual([]);
    expect(log.payloads).toEqual([]);
    expect(log.closes).toEqual([]);
    net.setUnreachable('manager', 1514, false);
    t.send(Buffer.from('hello?'));
    await flush();
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect((log.closes[0]!.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });

  it('leaves the server side open when the client closes behind a blackhole, until the server writes', async () => {
    net.listen('manager', 1514);
    const { t, conn } = await connected();
    net.setUnreachable('manager', 1514, 'blackhole');
    t.close();
    await flush();
    expect(conn.closed).toBe(false);
    net.setUnreachable('manager', 1514, false);
    conn.send(Buffer.from('anyone?'));
    await flush();
    expect(conn.closed).toBe(true);
  });

  it('lists every connection in creation order and rejects a second listener on the same port', async () => {
    net.listen('manager', 1514);
    expect(() => net.listen('manager', 1514)).toThrow(StateError);
    net.listen('manager', 1514, 'udp').close();
    const a = await connected();
    const b = await connected();
    a.t.close();
    await flush();
    expect(net.connections()).toEqual([a.conn, b.conn]);
    expect(net.connections().map((c) => c.closed)).toEqual([true, false]);
    b.t.close();
    await flush();
  });

  it('allocates distinct ports for listen(address, 0)', () => {
    const a = net.listen('manager', 0);
    const b = net.listen('manager', 0);
    expect(a.port).toBeGreaterThan(0);
    expect(b.port).not.toBe(a.port);
  });
});

describe('memory network over UDP', () => {
  it('connects with no listener, and reports ECONNREFUSED on send as an error without closing', async () => {
    const t = net.factory(UDP, { connectTimeout: 1000 });
    const log = record(t);
    await t.connect();
    expect(t.send(Buffer.from('anyone?'))).toBe(true);
    await flush();
    expect(log.errors).toHaveLength(1);
    expect(log.errors[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect((log.errors[0]!.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(log.closes).toEqual([]);
    const server = net.listen('manager', 1514, 'udp');
    const got: string[] = [];
    server.on('connection', (c) => c.on('payload', (p) => got.push(p.toString())));
    t.send(Buffer.from('now'));
    await flush();
    expect(got).toEqual(['now']);
    t.close();
    await flush();
    expect(log.closes).toEqual([undefined]);
  });

  it('opens a server-side association at the first datagram and answers on it', async () => {
    const server = net.listen('manager', 1514, 'udp');
    const events: string[] = [];
    server.on('connection', (c) => {
      events.push('connection');
      c.on('payload', (p) => {
        events.push(`payload ${p.toString()}`);
        c.send(Buffer.from(`ack ${p.toString()}`));
      });
    });
    const t = net.factory(UDP, { connectTimeout: 0 });
    const log = record(t);
    await t.connect();
    await flush();
    expect(events).toEqual([]);
    t.send(Buffer.from('1'));
    t.send(Buffer.from('2'));
    await flush();
    expect(events).toEqual(['connection', 'payload 1', 'payload 2']);
    expect(log.payloads).toEqual(['ack 1', 'ack 2']);
    expect(t.bytesOut).toBe(2);
    expect(t.bytesIn).toBe(10);
    t.close();
    await flush();
  });

  it('does not tell the client when the server ends an association; the next datagram opens a new one', async () => {
    const server = net.listen('manager', 1514, 'udp');
    let connections = 0;
    server.on('connection', () => connections++);
    const t = net.factory(UDP, { connectTimeout: 0 });
    const log = record(t);
    await t.connect();
    t.send(Buffer.from('a'));
    await flush();
    net.connections()[0]!.end();
    await flush();
    expect(log.closes).toEqual([]);
    t.send(Buffer.from('b'));
    await flush();
    expect(connections).toBe(2);
    expect(net.connections().map((c) => c.received.map(String))).toEqual([['a'], ['b']]);
    t.close();
    await flush();
  });

  it('drops datagrams while blackholed and refuses them while unreachable with refuse', async () => {
    const server = net.listen('manager', 1514, 'udp');
    const t = net.factory(UDP, { connectTimeout: 0 });
    const log = record(t);
    await t.connect();
    net.setUnreachable('manager', 1514, 'blackhole');
    t.send(Buffer.from('lost'));
    await flush();
    expect(net.connections()).toHaveLength(0);
    expect(log.errors).toEqual([]);
    net.setUnreachable('manager', 1514, 'refuse');
    t.send(Buffer.from('refused'));
    await flush();
    expect(log.errors.map((e) => (e.cause as NodeJS.ErrnoException).code)).toEqual(['ECONNREFUSED']);
    server.close();
    t.close();
    await flush();
  });

  it('refuses datagrams above 65507 bytes with an error event', async () => {
    const t = net.factory(UDP, { connectTimeout: 0 });
    const log = record(t);
    await t.connect();
    expect(t.send(Buffer.alloc(65508))).toBe(false);
    expect(log.errors.map((e) => e.code)).toEqual(['ERR_MESSAGE_TOO_LARGE']);
    t.close();
    await flush();
  });
});
