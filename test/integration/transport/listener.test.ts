/**
 * The server seam: the same behaviour from `listenNode()` (real sockets) and from the in-memory
 * network's `listenerFactory`, seen by the client transports of each: listen on port 0, carry
 * payloads both ways, refuse and listen again on the same port, drain, close.
 */
import { describe, expect, it } from 'vitest';
import type { AgentlinkError, Listener, ListenerFactory, ServerConnection, Transport, TransportFactory } from '../../../src/index.js';
import { createDefaultTransportFactory, listenNode } from '../../../src/index.js';
import { createMemoryNetwork } from '../../../src/testing/index.js';
import { cleanup, trackingClock, until, useHandleCheck } from './helpers.js';

useHandleCheck();

interface Side {
  name: string;
  /** A fresh pair of listener factory and client transport factory on one network. */
  make(): { listen: ListenerFactory; connect: TransportFactory };
}

const SIDES: Side[] = [
  { name: 'listenNode (real sockets)', make: () => ({ listen: listenNode, connect: createDefaultTransportFactory({ clock: trackingClock }) }) },
  {
    name: 'the in-memory network',
    make: () => {
      const network = createMemoryNetwork({ clock: trackingClock });
      return { listen: network.listenerFactory, connect: network.factory };
    },
  },
];

for (const side of SIDES) {
  describe(`Listener seam over ${side.name}`, () => {
    async function setup(protocols: ('tcp' | 'udp')[] = ['tcp']): Promise<{ listener: Listener; client: (protocol?: 'tcp' | 'udp') => Promise<Transport> }> {
      const { listen, connect } = side.make();
      const listener = await listen({ host: '127.0.0.1', port: 0, protocols, clock: trackingClock });
      cleanup(() => listener.close());
      const client = async (protocol: 'tcp' | 'udp' = 'tcp'): Promise<Transport> => {
        const t = connect({ address: '127.0.0.1', port: listener.port, protocol }, { connectTimeout: 2000 });
        cleanup(() => t.destroy());
        await t.connect();
        return t;
      };
      return { listener, client };
    }

    function accepted(listener: Listener): Promise<ServerConnection> {
      return new Promise((resolve) => listener.once('connection', resolve));
    }

    function closed(t: Transport): Promise<AgentlinkError | undefined> {
      return new Promise((resolve) => t.once('close', resolve));
    }

    it('listens on port 0 and carries whole payloads both ways, counting bytes in', async () => {
      const { listener, client } = await setup();
      expect(listener.port).toBeGreaterThan(0);
      const conn = accepted(listener);
      const t = await client();
      const c = await conn;
      expect(c.remoteAddress).toBe('127.0.0.1');
      expect(c.remotePort).toBeGreaterThan(0);
      const got: string[] = [];
      c.on('payload', (p) => got.push(p.toString()));
      t.send(Buffer.from('hello'));
      t.send(Buffer.from('world'));
      await until(() => got.length === 2);
      expect(got).toEqual(['hello', 'world']);
      expect(listener.bytesIn).toBe(2 * (4 + 5));
      const back: string[] = [];
      t.on('payload', (p) => back.push(p.toString()));
      expect(c.send(Buffer.from('ack'))).toBe(true);
      await until(() => back.length === 1);
      expect(back).toEqual(['ack']);
      expect(listener.connections).toBe(1);
    });

    it('refuses new connects while refusing, keeps established ones, and listens again on the same port', async () => {
      const { listener, client } = await setup();
      const port = listener.port;
      const conn = accepted(listener);
      const t = await client();
      const c = await conn;
      await listener.refuse(true);
      await expect(client()).rejects.toMatchObject({ code: 'ERR_CONNECT' });
      const got: string[] = [];
      c.on('payload', (p) => got.push(p.toString()));
      t.send(Buffer.from('still here'));
      await until(() => got.length === 1);
      await listener.refuse(false);
      expect(listener.port).toBe(port);
      const again = accepted(listener);
      await client();
      expect((await again).remotePort).toBeGreaterThan(0);
    });

    it('drain() stops listening, ends every connection gracefully and resolves once they closed', async () => {
      const { listener, client } = await setup();
      const conn = accepted(listener);
      const t = await client();
      await conn;
      const ended = closed(t);
      await listener.drain(2000);
      expect((await ended)?.code).toBe('ERR_CONNECTION_LOST');
      expect(listener.connections).toBe(0);
      await expect(client()).rejects.toMatchObject({ code: 'ERR_CONNECT' });
    });

    it('close() destroys every connection and is idempotent', async () => {
      const { listener, client } = await setup();
      const conn = accepted(listener);
      const t = await client();
      const c = await conn;
      const ended = closed(t);
      await listener.close();
      await listener.close();
      expect(await ended).toBeDefined();
      expect(c.closed).toBe(true);
      expect(c.send(Buffer.from('late'))).toBe(false);
    });

    it('serves UDP on the TCP port: datagrams name their peer, and replies reach it', async () => {
      const { listener, client } = await setup(['tcp', 'udp']);
      const u = await client('udp');
      const seen: { text: string; port: number }[] = [];
      listener.on('datagram', (p, peer) => {
        seen.push({ text: p.toString(), port: peer.port });
        listener.sendDatagram(Buffer.from(`re: ${p.toString()}`), peer);
      });
      const back: string[] = [];
      u.on('payload', (p) => back.push(p.toString()));
      u.send(Buffer.from('ping'));
      await until(() => back.length === 1);
      expect(seen).toEqual([{ text: 'ping', port: expect.any(Number) as number }]);
      expect(back).toEqual(['re: ping']);
      expect(listener.bytesIn).toBe(4);
    });
  });
}
