import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenNode } from '../../../src/transport/node-listener.js';
import type { ServerConnection } from '../../../src/transport/listener.js';
import { cleanup, parseFrames, until, useHandleCheck } from './helpers.js';

useHandleCheck();

/** A listener on 127.0.0.1 port 0, a raw client connected to it, and the server's end of that connection with its socket writes counted. */
async function connected(): Promise<{ conn: ServerConnection; client: net.Socket; received: Buffer[]; writes: () => number }> {
  const listener = await listenNode({ host: '127.0.0.1', port: 0, protocols: ['tcp'] });
  cleanup(() => listener.close());
  const accepted = new Promise<ServerConnection>((resolve) => listener.once('connection', resolve));
  const client = net.connect({ host: '127.0.0.1', port: listener.port });
  cleanup(() => client.destroy());
  client.on('error', () => undefined);
  const received: Buffer[] = [];
  client.on('data', (c: Buffer) => received.push(c));
  const conn = await accepted;
  const socket = (conn as unknown as { socket: net.Socket }).socket;
  let writes = 0;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => {
    writes++;
    return write(...args);
  }) as typeof socket.write;
  return { conn, client, received, writes: () => writes };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('listenNode connections', () => {
  it('send the payloads of one turn of the event loop as frames in one write, in order', async () => {
    const { conn, received, writes } = await connected();
    conn.send(Buffer.from('ack 1'));
    conn.send(Buffer.from('ack 2'));
    conn.send(Buffer.alloc(1000, 7));
    expect(writes()).toBe(0);
    expect(conn.bufferedOut).toBe(3 * 4 + 5 + 5 + 1000);
    await turn();
    expect(writes()).toBe(1);
    conn.send(Buffer.from('later'));
    await turn();
    expect(writes()).toBe(2);
    await until(() => Buffer.concat(received).length === 4 * 4 + 5 + 5 + 1000 + 5);
    const { frames, rest } = parseFrames(Buffer.concat(received));
    expect(rest.length).toBe(0);
    expect(frames.map((f) => f.length)).toEqual([5, 5, 1000, 5]);
    expect(frames.map((f) => f.toString('latin1', 0, 5))).toEqual(['ack 1', 'ack 2', '\x07\x07\x07\x07\x07', 'later']);
  });

  it('emit drain once what was sent has reached the kernel, also below the high-water mark and while the peer does not read', async () => {
    const { conn, client, received } = await connected();
    const drained = new Promise<void>((r) => conn.once('drain', () => r()));
    conn.send(Buffer.alloc(100, 1));
    expect(conn.bufferedOut).toBe(104);
    await drained;
    expect(conn.bufferedOut).toBe(0);
    client.pause();
    const big = Buffer.alloc(60_000, 2);
    let sent = 0;
    // until the kernel's buffers are full and the socket holds the rest
    for (let t = 0; t < 200 && conn.bufferedOut === 0; t++) {
      for (let i = 0; i < 10; i++) conn.send(big);
      sent += 10;
      await turn();
    }
    expect(conn.bufferedOut).toBeGreaterThan(0);
    const drainedAgain = new Promise<void>((r) => conn.once('drain', () => r()));
    client.resume();
    await drainedAgain;
    expect(conn.bufferedOut).toBe(0);
    await until(() => received.reduce((n, c) => n + c.length, 0) === 104 + sent * 60_004);
  });

  it('hand what was sent in the turn to the kernel before end() and destroy(); reset() drops it', async () => {
    for (const close of ['end', 'destroy'] as const) {
      const { conn, client, received } = await connected();
      const closed = new Promise((r) => client.once('close', r));
      conn.send(Buffer.from('last words'));
      conn[close]();
      await closed;
      expect(parseFrames(Buffer.concat(received)).frames.map((f) => f.toString())).toEqual(['last words']);
    }
    const { conn, client, received } = await connected();
    const closed = new Promise((r) => client.once('close', r));
    conn.send(Buffer.from('dropped'));
    conn.reset();
    await closed;
    expect(Buffer.concat(received).length).toBe(0);
    expect(conn.send(Buffer.from('after'))).toBe(false);
  });

  it('writes an oversize frame header after the frames queued before it', async () => {
    const { conn, received } = await connected();
    conn.send(Buffer.from('first'));
    conn.sendOversizeFrame();
    await until(() => Buffer.concat(received).length >= 9 + 4);
    const all = Buffer.concat(received);
    expect(all.readUInt32LE(0)).toBe(5);
    expect(all.toString('latin1', 4, 9)).toBe('first');
    expect(all.readUInt32LE(9)).toBeGreaterThan(65536);
  });
});
