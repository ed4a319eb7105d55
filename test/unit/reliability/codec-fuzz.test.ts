/**
 * Seeded fuzzing of every parser that sees bytes from the network: whatever arrives, they return a
 * value or throw a typed {@link DecodeError} (never a TypeError, RangeError or a zlib error), and
 * the frame decoder never holds more than one frame plus its header. Mutated real messages never
 * decode as something else.
 */
import { describe, expect, it } from 'vitest';
import { DecodeError, EnrollmentError } from '../../../src/index.js';
import {
  FRAME_HEADER_SIZE,
  FrameDecoder,
  MAX_FRAME_SIZE,
  buildMergedMg,
  decodeSecureMessage,
  encodeSecureMessage,
  encodeTcpFrame,
  parseAgentMessage,
  parseEnrollmentRequest,
  parseEnrollmentResponse,
  parseManagerMessage,
  parseMergedMg,
} from '../../../src/index.js';
import type { AgentKey, CryptoMethod } from '../../../src/index.js';
import { mulberry32 } from '../../helpers/prng.js';

const KEY: AgentKey = { id: '001', name: 'agent1', ip: 'any', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };
const OTHER: AgentKey = { id: '002', name: 'agent2', ip: 'any', key: 'fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210' };

function rng(seed: number): { int: (lo: number, hi: number) => number; bytes: (n: number) => Buffer; pick: <T>(xs: readonly T[]) => T } {
  const next = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    int,
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
    pick: (xs) => xs[int(0, xs.length - 1)]!,
  };
}

/** Runs `fn`; returns 'ok', 'decode' for a DecodeError, or rethrows anything else. */
function outcome(fn: () => unknown): 'ok' | 'decode' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (err instanceof DecodeError) return 'decode';
    throw err;
  }
}

describe('codec fuzzing', () => {
  it('decodeSecureMessage answers random and mutated payloads with a DecodeError, and never decodes a mutation', () => {
    const r = rng(0xc0dec);
    const counts = { ok: 0, decode: 0 };
    for (let i = 0; i < 3000; i++) {
      const method: CryptoMethod = r.pick(['aes', 'blowfish'] as const);
      const text = `1:fuzz:message ${i} ${'x'.repeat(r.int(0, 300))}`;
      const real = encodeSecureMessage(text, {
        key: KEY,
        method,
        sender: r.pick(['agent', 'manager'] as const),
        counter: { global: r.int(0, 10), local: r.int(1, 9997) },
        random: r.int(0, 65535), // seeded, so the run (and every length below) is the same each time
      });
      const header = real.indexOf(method === 'aes' ? '#AES:' : ':') + (method === 'aes' ? 5 : 1);
      let payload: Buffer;
      switch (i % 6) {
        case 0:
          payload = r.bytes(r.int(0, 2000));
          break;
        case 1: {
          payload = Buffer.from(real);
          const at = r.int(header, payload.length - 1);
          payload[at] = payload[at]! ^ r.int(1, 255);
          break;
        }
        case 2:
          payload = real.subarray(0, r.int(0, real.length - 1));
          break;
        case 3: {
          const at = r.int(header, real.length);
          payload = Buffer.concat([real.subarray(0, at), r.bytes(r.int(1, 32)), real.subarray(at)]);
          break;
        }
        case 4:
          payload = Buffer.concat([Buffer.from(r.pick(['!001!#AES:', '#AES:', ':', '!001!:', '!!', '!0000000001!#AES:'])), r.bytes(r.int(0, 64) * 8)]);
          break;
        default:
          payload = Buffer.concat([real.subarray(0, header), r.bytes(real.length - header)]);
      }
      const keys = r.pick([[KEY], [OTHER], [KEY, OTHER]]);
      let decoded: string | undefined;
      const result = outcome(() => (decoded = decodeSecureMessage(payload, { keys, sourceIp: '127.0.0.1' }).message.toString('utf8')));
      counts[result]++;
      // Whole cipher blocks appended after the message (case 3 at the very end) can decode, as in
      // Wazuh: zlib's uncompress ignores what follows the stream. Such a payload must then be the
      // original message, never something else.
      if (result === 'ok') expect(decoded).toBe(text);
    }
    // with this seed, every fuzzed payload above is refused
    expect(counts).toEqual({ ok: 0, decode: 3000 });
  });

  it('FrameDecoder fed seeded random streams in random splits throws only DecodeError and holds at most one frame plus its header', () => {
    const r = rng(0xf4a3e);
    let tooLarge = 0;
    for (let run = 0; run < 200; run++) {
      const d = new FrameDecoder();
      // a stream of valid frames with a random tail of junk, split at random points
      const frames = Array.from({ length: r.int(0, 5) }, () => encodeTcpFrame(r.bytes(r.int(0, 3000))));
      const stream = Buffer.concat([...frames, r.bytes(r.int(0, 200))]);
      let off = 0;
      let got = 0;
      try {
        while (off < stream.length) {
          const n = r.int(1, 700);
          d.decode(stream.subarray(off, off + n), () => got++);
          off += n;
          expect(d.buffered).toBeLessThanOrEqual(MAX_FRAME_SIZE + FRAME_HEADER_SIZE);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(DecodeError);
        expect((err as DecodeError).code).toBe('ERR_DECODE_FRAME_TOO_LARGE');
        tooLarge++;
        // failed for good: every later push throws the same error
        expect(() => d.push(Buffer.from([0]))).toThrow(DecodeError);
      }
      // the valid frames in front of the junk are always delivered, whatever the split
      expect(got).toBeGreaterThanOrEqual(frames.length);
    }
    expect(tooLarge).toBeGreaterThan(0); // some junk tails announce more than 64 KiB
  });

  it('manager and agent message parsers throw only DecodeError on random plaintexts', () => {
    const r = rng(0x9a55);
    const prefixes = ['#!-', '#!-req ', '#!-req 1 ', '#!-up file ', '#!-up file x ', '#!-agent startup ', '#!-agent startup {', '', '1:', '8:loc:', ':', '#!-execd '];
    let decodeErrors = 0;
    for (let i = 0; i < 4000; i++) {
      const msg = Buffer.concat([Buffer.from(r.pick(prefixes)), r.bytes(r.int(0, 120))]);
      if (outcome(() => parseManagerMessage(msg)) === 'decode') decodeErrors++;
      if (outcome(() => parseAgentMessage(msg)) === 'decode') decodeErrors++;
    }
    expect(decodeErrors).toBeGreaterThan(0);
  });

  it('merged.mg parsing throws only DecodeError on random and truncated bundles', () => {
    const r = rng(0x3e2);
    const bundle = buildMergedMg(
      [
        { name: 'agent.conf', content: '<agent_config/>\n' },
        { name: 'cis.yml', content: 'x'.repeat(500) },
      ],
      'default',
    );
    for (let i = 0; i < 2000; i++) {
      const data = i % 2 === 0 ? r.bytes(r.int(0, 300)) : Buffer.concat([bundle.subarray(0, r.int(0, bundle.length)), r.bytes(r.int(0, 20))]);
      const out = outcome(() => parseMergedMg(data));
      expect(['ok', 'decode']).toContain(out);
    }
  });

  it('enrollment request and response parsers never throw anything untyped on random lines', () => {
    const r = rng(0xe1);
    const heads = ["OSSEC A:'", 'OSSEC PASS: ', "OSSEC K:'", 'ERROR: ', "OSSEC A:'agent1' V:'", "OSSEC A:'agent1' G:'", "OSSEC A:'agent1' IP:'", ''];
    for (let i = 0; i < 3000; i++) {
      const line = r.pick(heads) + r.bytes(r.int(0, 80)).toString('latin1');
      const req = parseEnrollmentRequest(line, { password: i % 3 === 0 ? 'secret' : undefined, existingGroups: ['default'], sourceIp: '127.0.0.1' });
      expect(typeof req.ok).toBe('boolean');
      try {
        parseEnrollmentResponse(line);
      } catch (err) {
        expect(err).toBeInstanceOf(EnrollmentError);
      }
    }
  });
});
