/**
 * Codec throughput: agentlink's encode+frame and decode of a 170-byte AES event, against the same
 * steps written inline with bare `node:crypto` + `node:zlib` in the same run (goal: ratio ≥ 0.9),
 * plus Blowfish rates. Short rounds alternate between the two sides; the ratio is the median of
 * the per-round ratios, so background load affects both alike.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import {
  Blowfish,
  decodeSecureMessage,
  deriveEncryptionKey,
  encodeSecureFrame,
  nextCounter,
} from '../src/protocol/index.js';
import type { AgentKey, MessageCounter } from '../src/protocol/index.js';

/** Options of {@link benchCodec}. */
export interface BenchCodecOptions {
  /** Milliseconds per measurement. @default 100 */
  durationMs?: number;
  /** Alternating rounds per comparison (medians are reported). @default 21 */
  rounds?: number;
}

const KEY: AgentKey = {
  id: '001',
  name: 'agent1',
  ip: 'any',
  key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};

/** A 170-byte logcollector event. */
export const EVENT_170 = Buffer.from(
  `1:/var/log/auth.log:${'Jan  1 00:00:00 web01 sshd[31337]: Accepted publickey for deploy from 10.20.30.40 port 52144 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0'.padEnd(150, '.')}`,
  'latin1',
).subarray(0, 170);

const IV = Buffer.from('FEDCBA0987654321', 'latin1');

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** The bare pipeline, encode side: the steps of protocol.md 3.1 with node:crypto and node:zlib only. */
function bareEncodeFrame(msg: Buffer, aesKey: Buffer, id: string, c: MessageCounter, random: number): Buffer {
  const block = Buffer.concat([Buffer.from(`${pad(random, 5)}${pad(c.global, 10)}:${pad(c.local, 4)}:`, 'latin1'), msg]);
  const sum = createHash('md5').update(block).digest('hex');
  const comp = deflateSync(Buffer.concat([Buffer.from(sum, 'latin1'), block]), { level: 9 });
  const bangs = ((8 - ((comp.length + 1) % 8)) % 8) + 1;
  const padded = Buffer.concat([Buffer.alloc(bangs, 0x21), comp]);
  const cipher = createCipheriv('aes-256-cbc', aesKey, IV);
  const payload = Buffer.concat([Buffer.from(`!${id}!#AES:`, 'latin1'), cipher.update(padded), cipher.final()]);
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

/** The bare pipeline, decode side (header, decrypt, strip '!', inflate, md5, counters). */
function bareDecode(payload: Buffer, aesKey: Buffer): { id: string; global: number; local: number; message: Buffer } {
  const end = payload.indexOf(0x21, 1);
  const id = payload.toString('latin1', 1, end);
  if (payload.toString('latin1', end + 1, end + 6) !== '#AES:') throw new Error('bad header');
  const decipher = createDecipheriv('aes-256-cbc', aesKey, IV);
  const plain = Buffer.concat([decipher.update(payload.subarray(end + 6)), decipher.final()]);
  let i = 0;
  while (plain[i] === 0x21) i++;
  const block = inflateSync(plain.subarray(i));
  if (block.toString('latin1', 0, 32) !== createHash('md5').update(block.subarray(32)).digest('hex')) throw new Error('checksum');
  return {
    id,
    global: Number(block.toString('latin1', 37, 47)),
    local: Number(block.toString('latin1', 48, 52)),
    message: block.subarray(53),
  };
}

/** Runs `fn` in batches for about `ms` milliseconds and returns calls per second. */
function rate(fn: () => unknown, ms: number): number {
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  do {
    for (let i = 0; i < 64; i++) fn();
    n += 64;
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsed < ms);
  return (n / elapsed) * 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Measures two functions in short alternating rounds and returns the median rate of each and the
 * median of the per-round ratios a/b: measuring both sides back to back and taking the median of
 * their ratios cancels most of the drift of a shared, loaded machine.
 */
function compare(a: () => unknown, b: () => unknown, ms: number, rounds: number): [number, number, number] {
  rate(a, ms);
  rate(b, ms);
  const ra: number[] = [];
  const rb: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let x: number;
    let y: number;
    if (r % 2 === 0) {
      x = rate(a, ms);
      y = rate(b, ms);
    } else {
      y = rate(b, ms);
      x = rate(a, ms);
    }
    ra.push(x);
    rb.push(y);
    ratios.push(x / y);
  }
  return [median(ra), median(rb), median(ratios)];
}

/**
 * Runs the codec benchmark.
 *
 * @param opts - measurement length and rounds.
 * @returns rates in messages (or key schedules, or MB) per second, and the agentlink / bare ratios.
 */
export async function benchCodec(opts: BenchCodecOptions = {}): Promise<Record<string, number>> {
  const ms = opts.durationMs ?? 100;
  const rounds = opts.rounds ?? 21;
  const aesKey = deriveEncryptionKey(KEY).aes;
  const msg = EVENT_170;

  // Cross-check once: each side decodes the other's output.
  const ours = encodeSecureFrame(msg, { key: KEY, method: 'aes', sender: 'agent', counter: { global: 3, local: 7 }, random: 42 });
  const bare = bareEncodeFrame(msg, aesKey, KEY.id, { global: 3, local: 7 }, 42);
  if (!bareDecode(ours.subarray(4), aesKey).message.equals(msg) || !decodeSecureMessage(bare.subarray(4), { keys: [KEY] }).message.equals(msg)) {
    throw new Error('codec bench: agentlink and the bare pipeline disagree');
  }

  let c1: MessageCounter = { global: 0, local: 0 };
  let c2: MessageCounter = { global: 0, local: 0 };
  let r = 0;
  const [encOurs, encBare, encRatio] = compare(
    () => {
      c1 = nextCounter(c1);
      return encodeSecureFrame(msg, { key: KEY, method: 'aes', sender: 'agent', counter: c1, random: (r = (r + 1) & 0xffff) });
    },
    () => {
      c2 = c2.local >= 9997 ? { global: c2.global + 1, local: 1 } : { global: c2.global, local: c2.local + 1 };
      return bareEncodeFrame(msg, aesKey, KEY.id, c2, (r = (r + 1) & 0xffff));
    },
    ms,
    rounds,
  );

  const payload = ours.subarray(4);
  const keys = [KEY];
  const [decOurs, decBare, decRatio] = compare(
    () => decodeSecureMessage(payload, { keys }),
    () => bareDecode(payload, aesKey),
    ms,
    rounds,
  );

  let c3: MessageCounter = { global: 0, local: 0 };
  const slow = ms * 3;
  const bfEnc = rate(() => {
    c3 = nextCounter(c3);
    return encodeSecureFrame(msg, { key: KEY, method: 'blowfish', sender: 'agent', counter: c3, random: 1 });
  }, slow);
  const bfPayload = encodeSecureFrame(msg, { key: KEY, method: 'blowfish', sender: 'agent', counter: c3, random: 1 }).subarray(4);
  const bfDec = rate(() => decodeSecureMessage(bfPayload, { keys }), slow);
  const bf = new Blowfish(deriveEncryptionKey(KEY).blowfish);
  const block64k = Buffer.alloc(65536, 0x5a);
  const bfMBs = (rate(() => bf.encryptCbc(block64k), slow) * block64k.length) / 1e6;
  const keySchedules = rate(() => new Blowfish(deriveEncryptionKey(KEY).blowfish), slow);

  return {
    'aes encode+frame msgs/s (agentlink)': Math.round(encOurs),
    'aes encode+frame msgs/s (bare node)': Math.round(encBare),
    'aes encode ratio (goal >= 0.9)': Number(encRatio.toFixed(3)),
    'aes decode msgs/s (agentlink)': Math.round(decOurs),
    'aes decode msgs/s (bare node)': Math.round(decBare),
    'aes decode ratio (goal >= 0.9)': Number(decRatio.toFixed(3)),
    'blowfish encode+frame msgs/s': Math.round(bfEnc),
    'blowfish decode msgs/s': Math.round(bfDec),
    'blowfish-cbc MB/s (64 KiB buffer)': Number(bfMBs.toFixed(1)),
    'blowfish key schedules/s': Math.round(keySchedules),
  };
}
