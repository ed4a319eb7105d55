import * as net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { AgentlinkError, ConnectionError, DecodeError, createDefaultTransportFactory } from '../../../src/index.js';
import { TcpTransport, createTcpTransport } from '../../../src/transport/tcp.js';
import type { TcpTransportOptions } from '../../../src/transport/tcp.js';
import {
  cleanup,
  closedTcpPort,
  frame,
  listenTcp,
  next,
  parseFrames,
  stalledListener,
  trackingClock,
  until,
  useHandleCheck,
} from './helpers.js';
import { mulberry32 } from '../../helpers/prng.js';

useHandleCheck();

/** Creates a transport to 127.0.0.1:port, destroyed after the test. */
function transport(port: number, options: Partial<TcpTransportOptions> = {}): TcpTransport {
  const t = createTcpTransport({ address: '127.0.0.1', port, protocol: 'tcp' }, { connectTimeout: 5000, clock: trackingClock, ...options });
  cleanup(() => t.destroy());
  return t;
}

function record(t: TcpTransport): { payloads: Buffer[]; closes: (AgentlinkError | undefined)[]; errors: AgentlinkError[] } {
  const log = { payloads: [] as Buffer[], closes: [] as (AgentlinkError | undefined)[], errors: [] as AgentlinkError[] };
  t.on('payload', (p) => log.payloads.push(Buffer.from(p)));
  t.on('close', (e) => log.closes.push(e));
  t.on('error', (e) => log.errors.push(e));
  return log;
}

/** Resolves with the argument of the transport's next `close` event. */
function closeEvent(t: TcpTransport): Promise<AgentlinkError | undefined> {
  return new Promise((resolve) => t.once('close', resolve));
}

async function rejection(p: Promise<unknown>): Promise<AgentlinkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AgentlinkError);
  return err as AgentlinkError;
}

const prng = mulberry32;

describe('TcpTransport connect', () => {
  it('connects, reports the local address, and enables TCP_NODELAY and keepalive (30 s)', async () => {
    const srv = await listenTcp();
    const noDelay = vi.spyOn(net.Socket.prototype, 'setNoDelay');
    const keepAlive = vi.spyOn(net.Socket.prototype, 'setKeepAlive');
    cleanup(() => {
      noDelay.mockRestore();
      keepAlive.mockRestore();
    });
    const t = transport(srv.port);
    expect(t.localAddress).toBeUndefined();
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    expect(t.state).toBe('open');
    expect(t.localAddress).toBe('127.0.0.1');
    expect(peer.remotePort).toBeGreaterThan(0);
    const ours = noDelay.mock.contexts.find((s) => (s as net.Socket).localPort === peer.remotePort);
    expect(ours).toBeDefined();
    expect(noDelay.mock.calls[noDelay.mock.contexts.indexOf(ours)]).toEqual([true]);
    const kaIndex = keepAlive.mock.contexts.findIndex((s) => (s as net.Socket).localPort === peer.remotePort);
    expect(keepAlive.mock.calls[kaIndex]).toEqual([true, 30_000]);
  });

  it('binds the given local address from 127.0.0.0/8', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port, { localAddress: '127.0.0.2' });
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    expect(peer.remoteAddress).toBe('127.0.0.2');
    expect(t.localAddress).toBe('127.0.0.2');
  });

  it('rejects with ERR_CONNECT (ECONNREFUSED) on a closed port and emits no close', async () => {
    const port = await closedTcpPort();
    const t = transport(port);
    const log = record(t);
    const err = await rejection(t.connect());
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe('ERR_CONNECT');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect((err as ConnectionError).server).toEqual({ address: '127.0.0.1', port, protocol: 'tcp' });
    expect(err.message).toContain(`'[127.0.0.1]:${port}/tcp'`);
    expect(t.state).toBe('closed');
    await new Promise((r) => setImmediate(r));
    expect(log.closes).toEqual([]);
    expect(t.send(Buffer.from('x'))).toBe(false);
  });

  it.runIf(process.platform === 'linux')(
    'rejects with ERR_CONNECT_TIMEOUT when the handshake does not complete (accept queue full)',
    async () => {
      const { port } = await stalledListener();
      const t = transport(port, { connectTimeout: 200 });
      const log = record(t);
      const err = await rejection(t.connect());
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.code).toBe('ERR_CONNECT_TIMEOUT');
      expect(err.message).toContain('connectTimeout (200 ms)');
      expect(t.state).toBe('closed');
      expect(log.closes).toEqual([]);
    },
  );

  it.runIf(process.platform === 'linux')('rejects with ERR_ABORTED when the signal fires during the connect', async () => {
    const { port } = await stalledListener();
    const ac = new AbortController();
    const t = transport(port, { connectTimeout: 0, signal: ac.signal });
    const p = t.connect();
    setTimeout(() => ac.abort(new Error('stopping')), 20);
    const err = await rejection(p);
    expect(err.code).toBe('ERR_ABORTED');
    expect((err.cause as Error).message).toBe('stopping');
  });
});

describe('TcpTransport receive', () => {
  it('emits whole payloads in order when the server writes frames in random split chunks', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const log = record(t);
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    peer.setNoDelay(true);

    const rand = prng(0x5eed);
    const payloads: Buffer[] = [Buffer.alloc(0), Buffer.alloc(65536, 0xab)];
    for (let i = 0; i < 60; i++) {
      const p = Buffer.alloc(Math.floor(rand() * 3000));
      for (let j = 0; j < p.length; j++) p[j] = Math.floor(rand() * 256);
      payloads.splice(Math.floor(rand() * payloads.length), 0, p);
    }
    const stream = Buffer.concat(payloads.map(frame));
    // Chunk boundaries: inside headers, inside payloads, right after frames, and none at all for
    // some frames (so one chunk can also carry several frames).
    const cuts = new Set<number>();
    let splitHeaders = 0;
    for (let at = 0, i = 0; i < payloads.length; at += 4 + payloads[i]!.length, i++) {
      if (rand() < 0.3) continue;
      const len = payloads[i]!.length;
      if (rand() < 0.5) {
        cuts.add(at + 1 + Math.floor(rand() * 3));
        splitHeaders++;
      }
      if (len > 1) cuts.add(at + 4 + 1 + Math.floor(rand() * (len - 1)));
      if (rand() < 0.5) cuts.add(at + 4 + len);
    }
    cuts.add(stream.length);
    let off = 0;
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      peer.write(stream.subarray(off, cut));
      off = cut;
      // Wait until the client has read this chunk, so every split reaches the decoder as is.
      await until(() => t.bytesIn === off);
    }
    await until(() => log.payloads.length === payloads.length);
    expect(log.payloads.map((p) => p.length)).toEqual(payloads.map((p) => p.length));
    expect(log.payloads.every((p, i) => p.equals(payloads[i]!))).toBe(true);
    expect(splitHeaders).toBeGreaterThan(3);
    expect(t.bytesIn).toBe(stream.length);
    expect(t.bufferedIn).toBe(0);
    expect(log.closes).toEqual([]);
  });

  it('closes with ERR_DECODE_FRAME_TOO_LARGE and drops the socket when the server announces 65537 bytes', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const log = record(t);
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    const header = Buffer.alloc(4);
    header.writeUInt32LE(65537, 0);
    peer.write(Buffer.concat([frame(Buffer.from('before')), header, Buffer.alloc(100)]));
    await closeEvent(t);
    expect(log.payloads.map(String)).toEqual(['before']);
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]).toBeInstanceOf(DecodeError);
    expect(log.closes[0]!.code).toBe('ERR_DECODE_FRAME_TOO_LARGE');
    expect(t.state).toBe('closed');
    await next(peer, 'close');
  });

  it('closes once with ERR_CONNECTION_LOST when the server ends the connection', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const log = record(t);
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    peer.end(frame(Buffer.from('bye')));
    await closeEvent(t);
    await new Promise((r) => setTimeout(r, 20));
    expect(log.payloads.map(String)).toEqual(['bye']);
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]).toBeInstanceOf(ConnectionError);
    expect(log.closes[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect(log.closes[0]!.message).toContain('connection closed by the server');
    t.close();
    t.destroy();
    expect(log.closes).toHaveLength(1);
  });

  it('closes with ERR_CONNECTION_LOST (cause ECONNRESET) when the server resets the connection', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const log = record(t);
    const accepted = srv.accepted();
    await t.connect();
    (await accepted).resetAndDestroy();
    await closeEvent(t);
    expect(log.closes).toHaveLength(1);
    expect(log.closes[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect((log.closes[0]!.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });
});

describe('TcpTransport send and close', () => {
  it('writes the payloads sent in one turn of the event loop as length-prefixed frames in one write when the turn ends', async () => {
    const srv = await listenTcp();
    let writes = 0;
    const t = transport(srv.port, {
      createSocket: (opts) => {
        const s = net.connect(opts);
        const write = s.write.bind(s) as (chunk: Buffer) => boolean;
        s.write = ((chunk: Buffer) => {
          writes++;
          return write(chunk);
        }) as typeof s.write;
        return s;
      },
    });
    const accepted = srv.accepted();
    await t.connect();
    await accepted;
    const payloads = [Buffer.from('#ping'), Buffer.alloc(0), Buffer.alloc(65536, 1)];
    for (const p of payloads) expect(typeof t.send(p)).toBe('boolean');
    expect(writes).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(writes).toBe(1);
    t.send(Buffer.from('#pong'));
    await new Promise((r) => setImmediate(r));
    expect(writes).toBe(2);
    const wire = 5 + 0 + 65536 + 5 + 4 * 4;
    expect(t.bytesOut).toBe(wire);
    await until(() => Buffer.concat(srv.received[0]!).length === wire);
    const { frames, rest } = parseFrames(Buffer.concat(srv.received[0]!));
    expect(rest.length).toBe(0);
    expect(frames.map((f) => f.length)).toEqual([5, 0, 65536, 5]);
    expect(frames[0]!.toString()).toBe('#ping');
    expect(frames[2]!.equals(payloads[2]!)).toBe(true);
    expect(frames[3]!.toString()).toBe('#pong');
  });

  it('sends what was queued in the turn before close(), and nothing of it after destroy()', async () => {
    const srv = await listenTcp();
    const a = transport(srv.port);
    const accepted = srv.accepted();
    await a.connect();
    const sa = await accepted;
    const closedA = next(sa, 'close');
    a.send(Buffer.from('one'));
    a.send(Buffer.from('two'));
    a.close();
    await closedA;
    expect(parseFrames(Buffer.concat(srv.received[0]!)).frames.map((f) => f.toString())).toEqual(['one', 'two']);
    const b = transport(srv.port);
    const accepted2 = srv.accepted();
    await b.connect();
    const sb = await accepted2;
    const closedB = new Promise((r) => sb.once('close', r));
    b.send(Buffer.from('lost'));
    b.destroy();
    await closedB;
    expect(Buffer.concat(srv.received[1]!).length).toBe(0);
  });

  it('refuses a payload above 65536 bytes with an error event and keeps the connection', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const log = record(t);
    await t.connect();
    expect(t.send(Buffer.alloc(65537))).toBe(false);
    expect(log.errors.map((e) => e.code)).toEqual(['ERR_MESSAGE_TOO_LARGE']);
    expect(t.bytesOut).toBe(0);
    expect(t.state).toBe('open');
  });

  it('close() flushes pending frames, sends FIN, emits close once with no error, and is idempotent', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const log = record(t);
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    const big = Buffer.alloc(60_000, 7);
    for (let i = 0; i < 20; i++) t.send(big);
    t.send(Buffer.from('#!-agent shutdown '));
    t.close();
    t.close();
    expect(t.send(Buffer.from('late'))).toBe(false);
    await next(peer, 'end');
    const { frames, rest } = parseFrames(Buffer.concat(srv.received[0]!));
    expect(frames).toHaveLength(21);
    expect(frames.at(-1)!.toString()).toBe('#!-agent shutdown ');
    expect(rest.length).toBe(0);
    await until(() => t.state === 'closed');
    t.close();
    t.destroy();
    await new Promise((r) => setTimeout(r, 20));
    expect(log.closes).toEqual([undefined]);
  });

  it('close() gives up waiting for a peer that does not read after closeTimeout', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port, { closeTimeout: 100 });
    const log = record(t);
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    peer.pause();
    const big = Buffer.alloc(65536, 3);
    while (t.send(big)) {
      /* fill the kernel buffers */
    }
    t.close();
    await closeEvent(t);
    expect(log.closes).toEqual([undefined]);
    expect(t.state).toBe('closed');
  });

  it('destroy() resets the connection at once and emits close with no error', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const log = record(t);
    const accepted = srv.accepted();
    await t.connect();
    const peer = await accepted;
    const peerError = new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      peer.once('error', resolve);
      peer.once('close', () => resolve(undefined));
    });
    t.destroy();
    t.destroy();
    await closeEvent(t);
    expect(log.closes).toEqual([undefined]);
    expect((await peerError)?.code).toBe('ECONNRESET');
  });

  it('stops emitting payloads of a chunk once a listener closed the transport', async () => {
    const srv = await listenTcp();
    const t = transport(srv.port);
    const seen: string[] = [];
    t.on('payload', (p) => {
      seen.push(p.toString());
      t.close();
    });
    const accepted = srv.accepted();
    await t.connect();
    (await accepted).write(Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))]));
    await closeEvent(t);
    expect(seen).toEqual(['a']);
  });

  it('the default factory builds a TCP transport for tcp targets', async () => {
    const srv = await listenTcp();
    const t = createDefaultTransportFactory()({ address: '127.0.0.1', port: srv.port, protocol: 'tcp' }, { connectTimeout: 1000 });
    cleanup(() => t.destroy());
    expect(t).toBeInstanceOf(TcpTransport);
    await t.connect();
    expect(t.localAddress).toBe('127.0.0.1');
  });
});
