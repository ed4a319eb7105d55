/**
 * Adversarial input to the MockManager while a legitimate AgentClient is connected: fuzzed and
 * mutated frames from many sockets at once, slowloris connections, oversize length prefixes,
 * replayed frames with counter verification on, frames under another agent's key, `#ping` floods,
 * and the same over UDP. Every refusal must be the Wazuh reaction (TCP: connection closed; UDP:
 * datagram dropped), counted, and invisible to the legitimate agent. Memory stays bounded and no
 * log line carries a secret.
 */
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, EnrollmentError, MAX_FRAME_SIZE, decodeSecureMessage, deriveEncryptionKey, encodeSecureMessage, encodeTcpFrame, nextCounter } from '../../../src/index.js';
import { enroll } from '../../../src/enrollment/client.js';
import type { AgentKey, MessageCounter } from '../../../src/index.js';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import { KEEPALIVE, RawAgent } from '../testing/raw-agent.js';
import type { Cleanups } from './helpers.js';
import { heapAfterGc, memoryLogger, runCleanups, seeded, sleep, until } from './helpers.js';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

const FRAME_DEADLINE = 300;
const ATTACK_MS = 2500;
const PASSWORD = 'Sup3r-Secret-Enrollment-Pass';

interface Shot {
  closed: boolean;
  ms: number;
  reset: boolean;
}

/** Opens a socket, writes `bytes`, and reports whether (and when) the manager closed it. */
function oneShot(port: number, bytes: Buffer, timeout = 2500): Promise<Shot> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let reset = false;
    const s = connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ closed: false, ms: performance.now() - t0, reset });
    }, timeout);
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
    });
    s.once('connect', () => s.write(bytes));
    s.on('data', () => undefined);
    s.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, ms: performance.now() - t0, reset });
    });
  });
}

/** Holds a socket open and sends `first`, then `drip` every `every` ms; resolves when the manager closes it. */
function slowloris(port: number, first: Buffer, drip: Buffer | undefined, every: number, timeout: number): Promise<Shot> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const s: Socket = connect({ host: '127.0.0.1', port, noDelay: true });
    let interval: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      clearInterval(interval);
      s.destroy();
      resolve({ closed: false, ms: performance.now() - t0, reset: false });
    }, timeout);
    s.on('error', () => undefined);
    s.once('connect', () => {
      s.write(first);
      if (drip !== undefined) interval = setInterval(() => s.write(drip), every);
    });
    s.once('close', () => {
      clearInterval(interval);
      clearTimeout(timer);
      resolve({ closed: true, ms: performance.now() - t0, reset: false });
    });
  });
}

function frameWithLength(len: number, body = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(len >>> 0, 0);
  return Buffer.concat([h, body]);
}

/** The startup reply, or an error naming the step and the manager's counters (for diagnosis). */
async function handshake(a: RawAgent, m: MockManager, step: string): Promise<string | undefined> {
  try {
    return await a.handshake();
  } catch (err) {
    const { agents: _agents, ...st } = m.stats();
    throw new Error(`${step}: ${(err as Error).message}; manager ${JSON.stringify(st)}`);
  }
}

describe('MockManager under adversarial input, with a legitimate agent connected', () => {
  it('refuses fuzz, slowloris, oversize, replay, wrong-key and ping floods the Wazuh way, keeps serving the agent, bounds memory and logs no secret', async () => {
    const keys = new KeyStore();
    const [A, B, C] = keys.generate(3) as [AgentKey, AgentKey, AgentKey];
    const managerLog = memoryLogger();
    const agentLog = memoryLogger();
    const enrollLog = memoryLogger();
    const m = new MockManager({
      keys,
      verifyCounters: true,
      frameDeadlineMs: FRAME_DEADLINE,
      protocols: ['tcp', 'udp'],
      logger: managerLog.logger,
      authd: { password: PASSWORD },
    });
    cleanups.push(() => m.close());
    await m.start();
    const port = m.port;

    // The legitimate agent, sending a steady stream for the whole run.
    const c = new AgentClient({
      agent: A,
      servers: [{ address: '127.0.0.1', port }],
      notifyTime: 250,
      timeReconnect: 3000,
      connectTimeout: 1000,
      handshakeTimeout: 2000,
      uname: 'Linux |legit |6.1 |#1 |x86_64',
      buffer: { eventsPerSecond: 1000 },
      logger: agentLog.logger,
    });
    const agentErrors: string[] = [];
    c.on('error', (e) => agentErrors.push(e.code));
    cleanups.push(() => c.stop({ drainTimeout: 0 }));
    await c.start();
    await m.waitForAgents(1, { ids: [A.id], timeout: 3000 });
    let sent = 0;
    const ticker = setInterval(() => {
      c.send(`legit ${sent++}`, 'legit');
    }, 10);
    cleanups.push(() => clearInterval(ticker));
    const acksBefore = c.stats().acks;
    const heapBefore = heapAfterGc();
    const t0 = Date.now();

    // --- 1. fuzz: seeded random payloads and mutated real payloads, 16 sockets at a time ------------
    const rnd = seeded(0x5eed);
    let bCounter: MessageCounter = { global: 1000, local: 0 };
    const realPayload = (): Buffer => {
      bCounter = nextCounter(bCounter);
      return encodeSecureMessage(`1:fuzz:real payload ${bCounter.local}`, { key: B, method: 'aes', sender: 'agent', counter: bCounter });
    };
    const mutation = (i: number): Buffer => {
      switch (i % 5) {
        case 0:
          return rnd.bytes(rnd.int(1, 3000)); // anything at all
        case 1:
          return Buffer.concat([Buffer.from(`!${A.id}!#AES:`), rnd.bytes(rnd.int(0, 200) * 16)]); // the legit agent's id, garbage body
        case 2: {
          const p = realPayload(); // flip 1 to 8 bytes after the header
          for (let k = rnd.int(1, 8); k > 0; k--) {
            const at = rnd.int(10, p.length - 1);
            p[at] = p[at]! ^ rnd.int(1, 255);
          }
          return p;
        }
        case 3: {
          const p = realPayload(); // truncated
          return p.subarray(0, rnd.int(1, p.length - 1));
        }
        default: {
          const p = realPayload(); // random bytes spliced into the ciphertext
          const at = rnd.int(10, p.length - 1);
          return Buffer.concat([p.subarray(0, at), rnd.bytes(rnd.int(1, 40)), p.subarray(at)]);
        }
      }
    };
    // A mutation that garbles only the last cipher block, when that block is all PKCS#7 padding, can
    // leave a payload that decodes (about 1 in 10 000): the garbage then trails the zlib stream, which
    // zlib's uncompress(), and so remoted, ignores. That payload is no attack and the manager rightly
    // accepts it (and keeps the connection): such a mutation is drawn again.
    const decodes = (p: Buffer): boolean => {
      try {
        decodeSecureMessage(p, { keys: [B] });
        return true;
      } catch {
        return false;
      }
    };
    const fuzzPayload = (i: number): Buffer => {
      for (;;) {
        const p = mutation(i);
        if (!decodes(p)) return p;
      }
    };
    const fuzzShots: Shot[] = [];
    let underAgentId = 0;
    let shotNo = 0;
    // 12 sockets at a time, for at least ATTACK_MS, so the legitimate agent lives through several keepalive rounds
    const fuzzWorkers = Array.from({ length: 12 }, async () => {
      for (let j = 0; j < 20 || Date.now() - t0 < ATTACK_MS; j++) {
        const i = shotNo++;
        if (i % 5 === 1) underAgentId++;
        // some writes carry several frames: the first bad one closes the connection, the rest is ignored
        const frames = Array.from({ length: 1 + (i % 3) }, (_, k) => encodeTcpFrame(fuzzPayload(i + 5 * k)));
        fuzzShots.push(await oneShot(port, Buffer.concat(frames)));
      }
    });

    // --- 2. slowloris: partial header, partial frame, dripping bytes, an almost-full 64 KiB frame ---
    const slow = [
      ...Array.from({ length: 4 }, () => slowloris(port, frameWithLength(1000, Buffer.alloc(10, 0x41)), undefined, 0, 4000)),
      ...Array.from({ length: 4 }, () => slowloris(port, Buffer.from([0x10, 0x00]), undefined, 0, 4000)),
      ...Array.from({ length: 4 }, () => slowloris(port, frameWithLength(5000), Buffer.from([0x42]), 40, 4000)),
      slowloris(port, frameWithLength(MAX_FRAME_SIZE, Buffer.alloc(MAX_FRAME_SIZE - 1, 0x43)), undefined, 0, 4000),
    ];

    // --- 3. oversize length prefixes: closed at once -----------------------------------------------
    const oversize = [MAX_FRAME_SIZE + 1, 0x7fffffff, 0xffffffff, 1 << 20].map((len) => oneShot(port, frameWithLength(len, Buffer.alloc(16))));

    // --- 6a. #ping flood over TCP (read) and from a peer that never reads ------------------------------
    const PINGS = 20_000;
    const pingFrames = Buffer.concat(Array.from({ length: PINGS }, () => encodeTcpFrame(Buffer.from('#ping'))));
    const pongsRead = new Promise<number>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, noDelay: true });
      let bytes = 0;
      const expected = PINGS * 9;
      s.on('error', () => resolve(bytes / 9));
      s.on('data', (d: Buffer) => {
        bytes += d.length;
        if (bytes >= expected) {
          s.destroy();
          resolve(bytes / 9);
        }
      });
      s.once('connect', () => s.write(pingFrames));
      setTimeout(() => {
        s.destroy();
        resolve(bytes / 9);
      }, 5000);
    });
    const deaf = connect({ host: '127.0.0.1', port, noDelay: true });
    deaf.on('error', () => undefined);
    cleanups.push(() => deaf.destroy());
    deaf.once('connect', () => {
      deaf.pause(); // never reads a pong
      for (let k = 0; k < 10; k++) deaf.write(pingFrames);
    });

    // --- 7. UDP: random and mutated datagrams, and a ping flood; nothing is closed, all dropped ------
    const udp = createSocket('udp4');
    cleanups.push(() => udp.close());
    await new Promise<void>((resolve) => udp.connect(port, '127.0.0.1', resolve));
    udp.on('message', () => undefined);
    const udpBefore = { pings: m.stats().pings, decodeErrors: m.stats().decodeErrors };
    const udpFlood = (async () => {
      // paced in bursts of 20 so the kernel does not drop datagrams before the manager sees them
      for (let i = 0; i < 800; i++) {
        udp.send(i >= 300 ? Buffer.from('#ping') : i % 2 === 0 ? rnd.bytes(rnd.int(1, 1400)) : fuzzPayload(2));
        if (i % 20 === 19) await sleep(5);
      }
    })();

    await Promise.all(fuzzWorkers);
    await udpFlood;
    const slowShots = await Promise.all(slow);
    const oversizeShots = await Promise.all(oversize);
    const pongs = await pongsRead;

    // --- 4. replay with verifyCounters on, and 5. another agent's key under this agent's id ---------
    // B's fuzz frames carry counters from 1000:1 up and none of them decodes (fuzzPayload); the real B
    // starts above every one of them anyway, once no fuzz socket holds B's reply channel any more
    await until(() => m.agent(B.id)?.connected !== true, 5000);
    const b1 = await RawAgent.tcp(B, port);
    b1.counter = { global: bCounter.global + 1, local: 0 };
    cleanups.push(() => b1.close());
    expect(await handshake(b1, m, 'first B connection')).toBe('#!-agent ack ');
    const e1 = b1.encode('1:replay:first');
    b1.sendPayload(e1);
    await m.waitForEvents((e) => e.message === 'first' && e.agentId === B.id, { timeout: 3000 });
    const rejectionsBefore = m.stats().counterRejections;
    b1.sendPayload(e1); // the very same bytes again
    expect(await b1.waitClosed()).toBe(true);
    expect(m.stats().counterRejections).toBe(rejectionsBefore + 1);
    await sleep(50);
    expect(m.receivedEvents(B.id).filter((e) => e.message === 'first')).toHaveLength(1);

    // Replaying a captured keepalive over UDP from another socket (reply-channel hijack) is refused too.
    const ka = b1.encode(KEEPALIVE, { global: b1.counter.global, local: b1.counter.local - 1 });
    const hijack = createSocket('udp4');
    cleanups.push(() => hijack.close());
    await new Promise<void>((resolve) => hijack.connect(port, '127.0.0.1', resolve));
    hijack.send(ka);
    await until(() => m.stats().counterRejections === rejectionsBefore + 2, 2000, 'UDP replay rejected');
    expect(m.agent(B.id)!.protocol).toBe('tcp');

    // Another agent's key under B's id: 1404, closed, counted; B's counter is untouched.
    const decryptBefore = m.stats().decodeErrorsByCode.ERR_DECODE_DECRYPT ?? 0;
    await until(() => !m.agent(B.id)!.connected, 2000, 'B disconnected');
    const forged = encodeSecureMessage('1:forged:should never arrive', {
      key: { ...C, id: B.id },
      method: 'aes',
      sender: 'agent',
      counter: { global: 999_999, local: 1 },
    });
    const forgedShot = await oneShot(port, encodeTcpFrame(forged));
    expect(forgedShot.closed).toBe(true);
    expect(m.stats().decodeErrorsByCode.ERR_DECODE_DECRYPT).toBe(decryptBefore + 1);
    expect(m.receivedEvents().some((e) => e.location === 'forged')).toBe(false);

    // B comes back with a fresh counter (just above its last one): accepted.
    const b2 = new RawAgent(B);
    b2.counter = { ...b1.counter };
    await b2.connect(port);
    cleanups.push(() => b2.close());
    expect(await handshake(b2, m, 'B after the replay')).toBe('#!-agent ack ');
    b2.send('1:replay:second');
    await m.waitForEvents((e) => e.message === 'second' && e.agentId === B.id, { timeout: 3000 });

    // Every datagram was dropped and counted (nothing to close on UDP); pings answered.
    await until(() => m.stats().pings === udpBefore.pings + 11 * PINGS + 500, 5000, 'every ping seen');
    const udpRejected = m.stats().decodeErrorsByCode;
    expect(udpRejected.ERR_DECODE_UNKNOWN_AGENT).toBeGreaterThanOrEqual(150); // the random datagrams (no '!id!', unknown source IP)
    // A UDP peer still gets served after the UDP flood.
    const cu = await RawAgent.udp(C, port);
    cleanups.push(() => cu.close());
    expect(await handshake(cu, m, 'UDP agent')).toBe('#!-agent ack ');

    // --- the legitimate agent never noticed ---------------------------------------------------------
    clearInterval(ticker);
    const last = `legit ${sent - 1}`;
    await m.waitForEvents((e) => e.message === last, { timeout: 5000 });
    const elapsed = Date.now() - t0;
    const legit = m.receivedEvents(A.id).filter((e) => e.location === 'legit').map((e) => Number(e.message.slice(6)));
    expect(legit).toEqual(Array.from({ length: sent }, (_, i) => i)); // every event, in order, once
    const cs = c.stats();
    expect(cs.connects).toBe(1);
    expect(cs.disconnects).toBe(0);
    expect(cs.decodeErrors).toBe(0);
    expect(cs.acks - acksBefore).toBeGreaterThanOrEqual(Math.floor(elapsed / 250 / 2)); // keepalives kept being ACKed
    expect(agentErrors).toEqual([]);
    expect(m.agent(A.id)).toMatchObject({ status: 'active', connected: true, sessions: 1 });

    // --- every refusal was the Wazuh reaction, and counted ------------------------------------------
    const unclosed = fuzzShots.filter((s) => !s.closed);
    expect(unclosed).toEqual([]);
    expect(fuzzShots.length).toBeGreaterThanOrEqual(12 * 20);
    expect(slowShots.every((s) => s.closed)).toBe(true);
    expect(oversizeShots.every((s) => s.closed)).toBe(true);
    const st = m.stats();
    expect(st.framesTooLarge).toBe(4);
    expect(st.slowConnectionsClosed).toBe(slowShots.length);
    // fuzz frames under the connected agent's id are refused before decryption (Agent key already in use)
    // every 5th fuzz shot opens with the connected agent's id: refused before decryption (Agent key already in use)
    expect(st.keyInUseRejections).toBe(underAgentId);
    // one refusal per fuzz connection, oversize prefix, replay (TCP and UDP), forged frame and bad datagram
    expect(st.decodeErrors + st.keyInUseRejections).toBe(fuzzShots.length + 4 + 2 + 1 + 300);
    expect(st.pings).toBe(PINGS * 11 + 500);
    expect(pongs).toBe(PINGS);
    // memory bounds: one partial frame per connection at most (64 KiB + its header)
    expect(st.maxConnectionBuffered).toBeLessThanOrEqual(MAX_FRAME_SIZE + 4);
    deaf.destroy();
    await until(() => m.stats().connections === 2, 3000, 'only the legit agent and B left'); // A and b2
    const heapAfter = heapAfterGc();
    const growth = heapAfter - heapBefore;
    expect(growth).toBeLessThan(48 * 1024 * 1024);

    // --- logs: useful, and free of secrets -----------------------------------------------------------
    // exercise the password paths too: a wrong and a right enrollment password
    await expect(enroll({ host: '127.0.0.1', port: m.authdPort!, name: 'enroll-wrong', password: 'not-the-password', logger: enrollLog.logger })).rejects.toBeInstanceOf(
      EnrollmentError,
    );
    const enrolled = await enroll({ host: '127.0.0.1', port: m.authdPort!, name: 'enroll-right', password: PASSWORD, logger: enrollLog.logger });
    const lines = [...managerLog.lines, ...agentLog.lines, ...enrollLog.lines];
    expect(managerLog.lines.some((l) => l.includes('Invalid ID') || l.includes('1213'))).toBe(true);
    const secrets = [A, B, C, enrolled].flatMap((k) => [k.key, deriveEncryptionKey(k).encryptionKey, deriveEncryptionKey(k).aes.toString('latin1')]);
    secrets.push(PASSWORD, 'not-the-password');
    const leaks = lines.filter((l) => secrets.some((s) => l.includes(s)));
    expect(leaks).toEqual([]);

    const slowMs = slowShots.map((s) => Math.round(s.ms));
    console.info(
      `[reliability] manager under attack for ${elapsed} ms: ${fuzzShots.length} fuzz connections all closed ` +
        `(median ${Math.round(fuzzShots.map((s) => s.ms).sort((a, b) => a - b)[fuzzShots.length >> 1]!)} ms), ` +
        `slowloris closed after ${Math.min(...slowMs)}-${Math.max(...slowMs)} ms (frameDeadlineMs ${FRAME_DEADLINE}), ` +
        `oversize closed after ${oversizeShots.map((s) => Math.round(s.ms)).join('/')} ms, pings ${st.pings}, sendDropped ${st.sendDropped}, ` +
        `decodeErrors ${st.decodeErrors} ${JSON.stringify(st.decodeErrorsByCode)}, maxConnectionBuffered ${st.maxConnectionBuffered} B, ` +
        `heap growth ${(growth / 1024 / 1024).toFixed(1)} MiB, legit events ${sent} all delivered, log lines ${lines.length}`,
    );
  });

  it('with verifyCounters off (the Wazuh default) a replayed keepalive over UDP takes the reply channel until the agent speaks again: a protocol limit that verifyCounters closes', async () => {
    for (const verifyCounters of [false, true]) {
      const keys = new KeyStore();
      const [B] = keys.generate(1) as [AgentKey];
      const m = new MockManager({ keys, protocols: ['tcp', 'udp'], verifyCounters });
      cleanups.push(() => m.close());
      await m.start();
      const b = await RawAgent.tcp(B, m.port);
      cleanups.push(() => b.close());
      expect(await handshake(b, m, 'handshake')).toBe('#!-agent ack ');
      const captured = b.encode(KEEPALIVE); // what an eavesdropper on the path records
      b.sendPayload(captured);
      expect((await b.next()).text).toBe('#!-agent ack ');
      const attacker = createSocket('udp4');
      cleanups.push(() => attacker.close());
      await new Promise<void>((resolve) => attacker.connect(m.port, '127.0.0.1', resolve));
      const toAttacker: Buffer[] = [];
      attacker.on('message', (msg) => toAttacker.push(msg));
      attacker.send(captured);
      await sleep(200);
      if (verifyCounters) {
        expect(m.stats().counterRejections).toBe(1);
        expect(m.agent(B.id)!.protocol).toBe('tcp');
        expect(toAttacker).toEqual([]);
      } else {
        // accepted again: the manager now answers the replayer's address (the ACK went there)...
        expect(m.agent(B.id)!.protocol).toBe('udp');
        expect(toAttacker).toHaveLength(1);
        // ...and so does every command until the agent's next control message takes the channel back
        expect(m.activeResponse(B.id, { command: 'restart-wazuh0' })).toBe(1);
        await sleep(100);
        expect(toAttacker).toHaveLength(2);
        expect(b.inbox).toHaveLength(0);
        b.send(KEEPALIVE);
        expect((await b.next()).text).toBe('#!-agent ack ');
        expect(m.agent(B.id)!.protocol).toBe('tcp');
      }
    }
  });
});
