/**
 * resetSocket, the one reset of the agent transport, the manager listener and the fault proxy: a
 * reset right after `end()` (the shutdown still in progress) must still release the socket. With
 * `resetAndDestroy()` alone Node 20 emits `EINVAL`, never `close`, and keeps the handle for the life
 * of the process: the chaos soak saw it as a `TCPSocketWrap` left after the teardown, or a FaultProxy
 * close() that never resolved.
 */
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTcpTransport } from '../../../src/transport/tcp.js';
import { resetSocket } from '../../../src/transport/raw.js';
import { cleanup, listenTcp, next, trackingClock, useHandleCheck } from './helpers.js';

useHandleCheck();

async function connected(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  const errors: Error[] = [];
  s.on('error', (e) => errors.push(e));
  cleanup(() => {
    s.destroy();
    expect(errors.map((e) => e.message)).toEqual([]);
  });
  await next(s, 'connect');
  return s;
}

describe('resetSocket', () => {
  it('right after end(), in the same turn: the socket closes and no handle is left', async () => {
    const srv = await listenTcp();
    const s = await connected(srv.port);
    const peer = await srv.accepted();
    s.write('last words');
    s.end();
    resetSocket(s);
    await next(s, 'close');
    expect(s.destroyed).toBe(true);
    await next(peer, 'close');
  });

  it('on an open socket: the peer sees a reset', async () => {
    const srv = await listenTcp();
    const s = await connected(srv.port);
    const peer = await srv.accepted();
    const peerErr = new Promise<NodeJS.ErrnoException>((resolve) => peer.once('error', resolve));
    resetSocket(s);
    await next(s, 'close');
    expect((await peerErr).code).toBe('ECONNRESET');
  });

  it('while connecting: destroyed at once, close follows', async () => {
    const srv = await listenTcp();
    const s = net.connect(srv.port, '127.0.0.1');
    expect(s.connecting).toBe(true);
    resetSocket(s);
    expect(s.destroyed).toBe(true);
    await next(s, 'close');
  });
});

describe('TcpTransport', () => {
  it('close() then destroy() in the same turn: close is emitted once and the socket released', async () => {
    const srv = await listenTcp();
    const t = createTcpTransport({ address: '127.0.0.1', port: srv.port, protocol: 'tcp' }, { connectTimeout: 5000, clock: trackingClock });
    cleanup(() => t.destroy());
    const closes: unknown[] = [];
    t.on('close', (e) => closes.push(e));
    await t.connect();
    const peer = await srv.accepted();
    t.send(Buffer.from('an event'));
    t.close();
    t.destroy();
    await next(peer, 'close');
    // the transport's own close comes with its socket's: wait for it as long as the handle check does
    const deadline = Date.now() + 2000;
    while (closes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(closes).toEqual([undefined]);
  });
});
