import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeTcpFrame } from '../../../src/protocol/framing.js';
import { encodeSecureMessage } from '../../../src/protocol/secure.js';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import { useCleanup } from './fixtures.js';
import { ACK, KEEPALIVE, RawAgent, STARTUP } from './raw-agent.js';
import { mulberry32 } from '../../helpers/prng.js';

const cleanup = useCleanup();

const rng = mulberry32;

describe('MockManager robustness', () => {
  it('survives 10 000 random and mutated frames from 50 sockets at once, closing offenders and keeping memory bounded', async () => {
    const keys = new KeyStore();
    const k = keys.generate(20);
    const m = new MockManager({ keys, connectionOvertakeTime: 0 });
    cleanup(() => m.close());
    await m.start();
    const rand = rng(20240601);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const valid = (i: number): Buffer =>
      encodeSecureMessage(pick([STARTUP, KEEPALIVE, '1:/var/log/x:line', '#!-agent shutdown ', '#!-no newline']), {
        key: k[i % k.length]!,
        method: rand() < 0.5 ? 'aes' : 'blowfish',
        sender: 'agent',
        counter: { global: 0, local: 1 + (i % 9000) },
      });
    const makeFrame = (i: number): Buffer | Buffer[] => {
      const r = rand();
      if (r < 0.15) return encodeTcpFrame(randomBytes(Math.floor(rand() * 300)));
      if (r < 0.3) {
        // valid frame with a few flipped bytes after the header
        const p = valid(i);
        for (let n = 0; n < 1 + Math.floor(rand() * 4); n++) {
          const at = 6 + Math.floor(rand() * (p.length - 6));
          p[at] = p[at]! ^ (1 + Math.floor(rand() * 255));
        }
        return encodeTcpFrame(p);
      }
      if (r < 0.4) {
        const p = valid(i);
        return encodeTcpFrame(p.subarray(0, Math.floor(rand() * p.length)));
      }
      if (r < 0.47) return encodeTcpFrame(Buffer.concat([Buffer.from(`!${Math.floor(rand() * 1e9)}!#AES:`), randomBytes(64)]));
      if (r < 0.52) return encodeTcpFrame(Buffer.from(pick(['!!', '!12a!', '!001', '#AES:', ':', '!001!#AES', '#pin', '#ping'])));
      if (r < 0.55) {
        const h = Buffer.alloc(4);
        h.writeUInt32LE(65537 + Math.floor(rand() * 1e6));
        return h;
      }
      if (r < 0.58) {
        // a large frame, written in two parts so the manager holds a partial frame in between
        const f = encodeTcpFrame(randomBytes(30_000 + Math.floor(rand() * 35_500)));
        const cut = 4 + Math.floor(rand() * (f.length - 8));
        return [f.subarray(0, cut), f.subarray(cut)];
      }
      if (r < 0.6) return Buffer.alloc(4); // zero-length frame
      return encodeTcpFrame(valid(i));
    };

    // Each worker sends a frame, then a #ping: the #pong proves the manager processed the frame and
    // kept the connection; a close means it rejected the frame, and the worker reconnects.
    let sent = 0;
    let reconnects = 0;
    const PING = encodeTcpFrame(Buffer.from('#ping'));
    class Conn {
      readonly decoder = new FrameDecoder();
      closed = false;
      #waiter: ((pong: boolean) => void) | undefined;
      constructor(readonly socket: Socket) {
        socket.on('data', (d: Buffer) => {
          for (const f of this.decoder.push(d)) {
            if (f.toString('latin1') === '#pong') this.#wake(true);
          }
        });
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.closed = true;
          this.#wake(false);
        });
      }
      #wake(v: boolean): void {
        const w = this.#waiter;
        this.#waiter = undefined;
        w?.(v);
      }
      /** Resolves true on #pong, false when the manager closed the connection. */
      probe(frame: Buffer | Buffer[]): Promise<boolean> {
        return new Promise((resolve) => {
          this.#waiter = resolve;
          if (Buffer.isBuffer(frame)) {
            this.socket.write(Buffer.concat([frame, PING]));
            return;
          }
          this.socket.write(frame[0]!);
          setTimeout(() => {
            if (!this.closed) this.socket.write(Buffer.concat([frame[1]!, PING]));
          }, 2);
        });
      }
    }
    const open = (): Promise<Conn> =>
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: m.port, noDelay: true });
        cleanup(() => s.destroy());
        s.once('connect', () => resolve(new Conn(s)));
        s.once('error', reject);
      });
    let kept = 0;
    const worker = async (w: number): Promise<void> => {
      let c = await open();
      for (let i = 0; i < 200; i++) {
        if (c.closed) {
          c = await open();
          reconnects++;
        }
        sent++;
        if (await c.probe(makeFrame(w * 200 + i))) kept++;
      }
      c.socket.destroy();
    };
    await Promise.all(Array.from({ length: 50 }, (_, w) => worker(w)));
    expect(sent).toBe(10_000);

    // Still serving: a well-behaved agent gets its ACK.
    const good = await RawAgent.tcp(k[0]!, m.port);
    cleanup(() => good.close());
    expect(await good.handshake()).toBe(ACK);

    const s = m.stats();
    console.log(
      `robustness: ${sent} frames (${kept} kept the connection), ${reconnects} reconnects, ${s.connectionsTotal} connections, ${s.connectionsClosed} closed by the manager, ` +
        `${s.decodeErrors} decode errors ${JSON.stringify(s.decodeErrorsByCode)}, ${s.framesTooLarge} oversize, ${s.messagesReceived} valid, max buffered ${s.maxConnectionBuffered} B`,
    );
    // Every frame the manager did not accept cost the connection; every other one kept it.
    expect(s.connectionsClosed).toBe(sent - kept);
    expect(s.decodeErrors + s.keyInUseRejections).toBe(s.connectionsClosed);
    expect(s.decodeErrors).toBeGreaterThan(2000);
    expect(s.framesTooLarge).toBeGreaterThan(0);
    expect(s.messagesReceived).toBeGreaterThan(3000);
    expect(s.maxConnectionBuffered).toBeGreaterThan(30_000);
    expect(s.maxConnectionBuffered).toBeLessThanOrEqual(64 * 1024 + 4);
  }, 60_000);
});
