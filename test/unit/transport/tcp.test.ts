/**
 * TcpTransport logic over an injected, never-connected `net.Socket` and fake timers: the connect
 * deadline, abort and close during a connect, and the close semantics driven by socket events. No
 * file descriptor is opened here; real sockets are in test/integration/transport.
 */
import * as net from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AgentlinkError, ConnectionError, DecodeError } from '../../../src/index.js';
import { TcpTransport, normalizeAddress } from '../../../src/transport/tcp.js';
import type { TcpTransportOptions } from '../../../src/transport/tcp.js';

const TARGET = { address: 'manager.example', port: 1514, protocol: 'tcp' as const };

interface Rig {
  t: TcpTransport;
  sockets: net.Socket[];
  opts: net.TcpNetConnectOpts[];
  closes: (AgentlinkError | undefined)[];
  payloads: string[];
}

function rig(options: Partial<TcpTransportOptions> = {}): Rig {
  const sockets: net.Socket[] = [];
  const opts: net.TcpNetConnectOpts[] = [];
  const t = new TcpTransport(TARGET, {
    connectTimeout: 10_000,
    createSocket: (o) => {
      opts.push(o);
      const s = new net.Socket(); // never connects: the test drives its events
      sockets.push(s);
      return s;
    },
    ...options,
  });
  const closes: (AgentlinkError | undefined)[] = [];
  const payloads: string[] = [];
  t.on('close', (e) => closes.push(e));
  t.on('payload', (p) => payloads.push(p.toString()));
  return { t, sockets, opts, closes, payloads };
}

async function rejection(p: Promise<unknown>): Promise<AgentlinkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentlinkError);
  return err as AgentlinkError;
}

/** Flushes microtasks and nextTicks (a destroyed socket emits 'close' on nextTick). */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
  await new Promise<void>((r) => process.nextTick(r));
  await vi.advanceTimersByTimeAsync(0);
}

/** Drives the injected socket to 'connect'. */
async function open(r: Rig): Promise<net.Socket> {
  const p = r.t.connect();
  const s = r.sockets[0]!;
  s.emit('connect');
  await p;
  return s;
}

function frame(text: string): Buffer {
  const body = Buffer.from(text);
  const h = Buffer.alloc(4);
  h.writeUInt32LE(body.length, 0);
  return Buffer.concat([h, body]);
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  expect(vi.getTimerCount()).toBe(0);
  vi.useRealTimers();
});

describe('TcpTransport connect deadline', () => {
  it('fails with ERR_CONNECT_TIMEOUT exactly at connectTimeout and destroys the socket', async () => {
    const r = rig();
    const p = r.t.connect();
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    expect(r.opts).toEqual([{ host: 'manager.example', port: 1514 }]);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled).toBe(false);
    expect(r.t.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(1);
    const err = await rejection(p);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe('ERR_CONNECT_TIMEOUT');
    expect((err as ConnectionError).server).toEqual(TARGET);
    expect(r.sockets[0]!.destroyed).toBe(true);
    expect(r.t.state).toBe('closed');
    await settle();
    expect(r.closes).toEqual([]);
  });

  it('sets no deadline when connectTimeout is 0', async () => {
    const r = rig({ connectTimeout: 0 });
    const p = r.t.connect();
    expect(vi.getTimerCount()).toBe(0);
    r.t.destroy();
    expect((await rejection(p)).code).toBe('ERR_ABORTED');
  });

  it('passes localAddress to the socket', async () => {
    const r = rig({ localAddress: '127.0.0.5' });
    const p = r.t.connect();
    expect(r.opts[0]!.localAddress).toBe('127.0.0.5');
    r.t.close();
    await rejection(p);
  });

  it('rejects with ERR_ABORTED when the signal fires, clears the deadline and destroys the socket', async () => {
    const ac = new AbortController();
    const r = rig({ signal: ac.signal });
    const p = r.t.connect();
    await vi.advanceTimersByTimeAsync(500);
    ac.abort(new Error('stop'));
    const err = await rejection(p);
    expect(err.code).toBe('ERR_ABORTED');
    expect((err.cause as Error).message).toBe('stop');
    expect(r.sockets[0]!.destroyed).toBe(true);
  });

  it('rejects at once without a socket when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = rig({ signal: ac.signal });
    expect((await rejection(r.t.connect())).code).toBe('ERR_ABORTED');
    expect(r.sockets).toEqual([]);
  });

  it('translates a socket error while connecting into ERR_CONNECT with the system error as cause', async () => {
    const r = rig();
    const p = r.t.connect();
    const sys = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1514'), { code: 'ECONNREFUSED' });
    r.sockets[0]!.emit('error', sys);
    const err = await rejection(p);
    expect(err.code).toBe('ERR_CONNECT');
    expect(err.cause).toBe(sys);
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('translates a synchronous throw of the socket factory into ERR_CONNECT', async () => {
    const t = new TcpTransport(TARGET, {
      connectTimeout: 1000,
      createSocket: () => {
        throw Object.assign(new TypeError('bad port'), { code: 'ERR_SOCKET_BAD_PORT' });
      },
    });
    expect((await rejection(t.connect())).code).toBe('ERR_CONNECT');
  });

  it('rejects a second connect() with ERR_INVALID_STATE', async () => {
    const r = rig();
    await open(r);
    expect((await rejection(r.t.connect())).code).toBe('ERR_INVALID_STATE');
    r.t.destroy();
    await settle();
  });
});

describe('TcpTransport close semantics', () => {
  it('emits payloads from frames split across data events', async () => {
    const r = rig();
    const s = await open(r);
    const wire = Buffer.concat([frame('hello'), frame(''), frame('world')]);
    for (let i = 0; i < wire.length; i += 3) s.emit('data', wire.subarray(i, i + 3));
    expect(r.payloads).toEqual(['hello', '', 'world']);
    expect(r.t.bytesIn).toBe(wire.length);
    r.t.destroy();
    await settle();
  });

  it('closes once with ERR_CONNECTION_LOST on EOF', async () => {
    const r = rig();
    const s = await open(r);
    s.emit('end');
    s.emit('end');
    await settle();
    expect(r.closes).toHaveLength(1);
    expect(r.closes[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect(r.t.state).toBe('closed');
  });

  it('closes with the first reason when an error follows a decode failure', async () => {
    const r = rig();
    const s = await open(r);
    const h = Buffer.alloc(4);
    h.writeUInt32LE(70_000, 0);
    s.emit('data', h);
    s.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    await settle();
    expect(r.closes).toHaveLength(1);
    expect(r.closes[0]).toBeInstanceOf(DecodeError);
    expect(r.closes[0]!.code).toBe('ERR_DECODE_FRAME_TOO_LARGE');
  });

  it('closes with ERR_CONNECTION_LOST carrying the socket error', async () => {
    const r = rig();
    const s = await open(r);
    const sys = Object.assign(new Error('read ETIMEDOUT'), { code: 'ETIMEDOUT' });
    s.destroy(sys);
    await settle();
    expect(r.closes).toHaveLength(1);
    expect(r.closes[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect(r.closes[0]!.cause).toBe(sys);
  });

  it('reports no error when the socket fails after a local close()', async () => {
    const r = rig();
    const s = await open(r);
    r.t.close();
    expect(r.t.state).toBe('closing');
    s.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await settle();
    expect(r.closes).toEqual([undefined]);
  });

  it('half-closes on close() and destroys the socket when the peer has not closed its side within closeTimeout', async () => {
    const r = rig({ closeTimeout: 2000 });
    const s = await open(r);
    const end = vi.spyOn(s, 'end').mockImplementation(() => s); // a peer that never closes its side
    r.t.close();
    expect(end).toHaveBeenCalledOnce();
    await vi.advanceTimersByTimeAsync(1999);
    expect(s.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.destroyed).toBe(true);
    await settle();
    expect(r.closes).toEqual([undefined]);
  });

  it('returns false from send() before connect and after close', async () => {
    const r = rig();
    expect(r.t.send(Buffer.from('x'))).toBe(false);
    await open(r);
    r.t.close();
    expect(r.t.send(Buffer.from('x'))).toBe(false);
    r.t.destroy(); // the injected socket has no handle, so its graceful end never finishes
    await settle();
    expect(r.closes).toEqual([undefined]);
  });
});

describe('normalizeAddress', () => {
  it('strips the IPv4-mapped prefix and keeps other addresses', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::1')).toBe('::1');
    expect(normalizeAddress('10.0.0.2')).toBe('10.0.0.2');
    expect(normalizeAddress('')).toBeUndefined();
    expect(normalizeAddress(undefined)).toBeUndefined();
  });
});
