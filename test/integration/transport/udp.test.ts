import * as dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { AgentlinkError, ConnectionError, createDefaultTransportFactory } from '../../../src/index.js';
import { UdpTransport, createUdpTransport } from '../../../src/transport/udp.js';
import type { UdpTransportOptions } from '../../../src/transport/udp.js';
import { cleanup, closedUdpPort, next, trackingClock, until, useHandleCheck } from './helpers.js';

useHandleCheck();

function transport(port: number, options: Partial<UdpTransportOptions> = {}): UdpTransport {
  const t = createUdpTransport({ address: '127.0.0.1', port, protocol: 'udp' }, { connectTimeout: 5000, clock: trackingClock, ...options });
  cleanup(() => t.destroy());
  return t;
}

function record(t: UdpTransport): { payloads: string[]; closes: (AgentlinkError | undefined)[]; errors: AgentlinkError[] } {
  const log = { payloads: [] as string[], closes: [] as (AgentlinkError | undefined)[], errors: [] as AgentlinkError[] };
  t.on('payload', (p) => log.payloads.push(p.toString()));
  t.on('close', (e) => log.closes.push(e));
  t.on('error', (e) => log.errors.push(e));
  return log;
}

interface Datagram {
  msg: Buffer;
  rinfo: dgram.RemoteInfo;
}

/** A UDP server on 127.0.0.1 port 0 that records datagrams; closed after the test. */
async function udpServer(): Promise<{ socket: dgram.Socket; port: number; got: Datagram[] }> {
  const socket = dgram.createSocket('udp4');
  const got: Datagram[] = [];
  socket.on('message', (msg, rinfo) => got.push({ msg, rinfo }));
  socket.bind(0, '127.0.0.1');
  cleanup(() => new Promise<void>((r) => socket.close(() => r())));
  await next(socket, 'listening');
  return { socket, port: socket.address().port, got };
}

describe('UdpTransport', () => {
  it('sends one datagram per payload, without framing, and emits each reply datagram as a payload', async () => {
    const srv = await udpServer();
    srv.socket.on('message', (msg, rinfo) => srv.socket.send(Buffer.from(`ack ${msg.toString()}`), rinfo.port, rinfo.address));
    const t = transport(srv.port);
    const log = record(t);
    await t.connect();
    expect(t.state).toBe('open');
    expect(t.send(Buffer.from('#!-agent startup {}'))).toBe(true);
    expect(t.send(Buffer.from('second'))).toBe(true);
    await until(() => log.payloads.length === 2);
    expect(srv.got.map((d) => d.msg.toString())).toEqual(['#!-agent startup {}', 'second']);
    expect(log.payloads).toEqual(['ack #!-agent startup {}', 'ack second']);
    expect(t.bytesOut).toBe(19 + 6);
    expect(t.bytesIn).toBe(23 + 10);
    expect(log.errors).toEqual([]);
  });

  it('reports the local address the datagrams come from', async () => {
    const srv = await udpServer();
    const t = transport(srv.port);
    expect(t.localAddress).toBeUndefined();
    await t.connect();
    t.send(Buffer.from('hi'));
    await until(() => srv.got.length === 1);
    expect(t.localAddress).toBe('127.0.0.1');
    expect(srv.got[0]!.rinfo.address).toBe(t.localAddress);
  });

  it('binds the given local address', async () => {
    const srv = await udpServer();
    const t = transport(srv.port, { localAddress: '127.0.0.3' });
    await t.connect();
    t.send(Buffer.from('hi'));
    await until(() => srv.got.length === 1);
    expect(srv.got[0]!.rinfo.address).toBe('127.0.0.3');
    expect(t.localAddress).toBe('127.0.0.3');
  });

  it('ignores datagrams from other peers (the socket is connected)', async () => {
    const srv = await udpServer();
    srv.socket.on('message', (msg, rinfo) => srv.socket.send(msg, rinfo.port, rinfo.address));
    const t = transport(srv.port);
    const log = record(t);
    await t.connect();
    t.send(Buffer.from('probe'));
    await until(() => log.payloads.length === 1);
    const { port } = srv.got[0]!.rinfo;
    const stranger = dgram.createSocket('udp4');
    cleanup(() => new Promise<void>((r) => stranger.close(() => r())));
    await new Promise<void>((r) => stranger.send(Buffer.from('spoofed'), port, '127.0.0.1', () => r()));
    t.send(Buffer.from('after'));
    await until(() => log.payloads.length === 2);
    expect(log.payloads).toEqual(['probe', 'after']);
  });

  it('emits ECONNREFUSED from an ICMP port-unreachable as an error and stays open', async () => {
    const port = await closedUdpPort();
    const t = transport(port);
    const log = record(t);
    await t.connect();
    t.send(Buffer.from('anyone?'));
    await until(() => log.errors.length >= 1);
    expect(log.errors[0]).toBeInstanceOf(ConnectionError);
    expect(log.errors[0]!.code).toBe('ERR_CONNECTION_LOST');
    expect((log.errors[0]!.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(log.errors[0]!.message).toContain('the socket stays open');
    expect(log.closes).toEqual([]);
    expect(t.state).toBe('open');
    expect(t.send(Buffer.from('again'))).toBe(true);
    await until(() => log.errors.length >= 2);
    expect(t.state).toBe('open');
    t.close();
    await until(() => log.closes.length === 1);
    expect(log.closes).toEqual([undefined]);
  });

  it('refuses a payload above 65507 bytes with ERR_MESSAGE_TOO_LARGE and sends 65507 bytes', async () => {
    const srv = await udpServer();
    const t = transport(srv.port);
    const log = record(t);
    await t.connect();
    expect(t.send(Buffer.alloc(65_508))).toBe(false);
    expect(log.errors.map((e) => e.code)).toEqual(['ERR_MESSAGE_TOO_LARGE']);
    expect(t.send(Buffer.alloc(65_507, 1))).toBe(true);
    await until(() => srv.got.length === 1);
    expect(srv.got[0]!.msg.length).toBe(65_507);
  });

  it('close() is idempotent and emits close once with no error; send afterwards returns false', async () => {
    const srv = await udpServer();
    const t = transport(srv.port);
    const log = record(t);
    await t.connect();
    t.close();
    t.close();
    t.destroy();
    expect(t.send(Buffer.from('late'))).toBe(false);
    await until(() => t.state === 'closed');
    await new Promise((r) => setTimeout(r, 20));
    expect(log.closes).toEqual([undefined]);
  });

  it('rejects a second connect() and a connect with an aborted signal', async () => {
    const srv = await udpServer();
    const t = transport(srv.port);
    await t.connect();
    await expect(t.connect()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    const ac = new AbortController();
    ac.abort();
    await expect(transport(srv.port, { signal: ac.signal }).connect()).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('the default factory builds a UDP transport for udp targets', async () => {
    const srv = await udpServer();
    const t = createDefaultTransportFactory({ clock: trackingClock })({ address: '127.0.0.1', port: srv.port, protocol: 'udp' }, { connectTimeout: 1000 });
    cleanup(() => t.destroy());
    expect(t).toBeInstanceOf(UdpTransport);
    await t.connect();
    t.send(Buffer.from('x'));
    await until(() => srv.got.length === 1);
  });
});
