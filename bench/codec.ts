/**
 * Codec throughput, per CPU second of this process: agentlink's encode+frame and decode of a 170-byte AES event, against the same
 * steps written inline with bare `node:crypto` + `node:zlib` in the same run (goal: ratio ≥ 0.9),
 * plus Blowfish rates. Short rounds alternate between the two sides; the ratio is the median of
 * the per-round ratios, so background load affects both alike.
 *
 * @module
 */
import {
  Blowfish,
  decodeSecureMessage,
  deriveEncryptionKey,
  encodeSecureFrame,
  nextCounter,
} from '../src/protocol/index.js';
import type { MessageCounter } from '../src/protocol/index.js';
import { BENCH_KEY as KEY, EVENT_170, bareDecode, bareEncodeFrame } from './bare.js';

/** Options of {@link benchCodec}. */
export interface BenchCodecOptions {
  /** Milliseconds per measurement. @default 100 */
  durationMs?: number;
  /** Alternating rounds per comparison (medians are reported). @default 11 */
  rounds?: number;
}

/** CPU seconds (user + system) this process has used. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Runs `fn` in batches for about `ms` milliseconds of this process's CPU time and returns calls per
 * CPU second: on a machine shared with other work, CPU time is what one call costs, where wall time
 * also counts the time the process waited for a core.
 */
function rate(fn: () => unknown, ms: number): number {
  let n = 0;
  const start = cpuSeconds();
  let elapsed = 0;
  do {
    for (let i = 0; i < 64; i++) fn();
    n += 64;
    elapsed = cpuSeconds() - start;
  } while (elapsed * 1000 < ms);
  return n / elapsed;
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
 * @returns rates in messages (or key schedules, or MB) per CPU second, and the agentlink / bare ratios.
 */
export async function benchCodec(opts: BenchCodecOptions = {}): Promise<Record<string, number>> {
  const ms = opts.durationMs ?? 100;
  const rounds = opts.rounds ?? 11;
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
    'aes encode+frame msgs/CPU-s (agentlink)': Math.round(encOurs),
    'aes encode+frame msgs/CPU-s (bare node)': Math.round(encBare),
    'aes encode ratio (goal >= 0.9)': Number(encRatio.toFixed(3)),
    'aes decode msgs/CPU-s (agentlink)': Math.round(decOurs),
    'aes decode msgs/CPU-s (bare node)': Math.round(decBare),
    'aes decode ratio (goal >= 0.9)': Number(decRatio.toFixed(3)),
    'blowfish encode+frame msgs/CPU-s': Math.round(bfEnc),
    'blowfish decode msgs/CPU-s': Math.round(bfDec),
    'blowfish-cbc MB/CPU-s (64 KiB buffer)': Number(bfMBs.toFixed(1)),
    'blowfish key schedules/CPU-s': Math.round(keySchedules),
  };
}
