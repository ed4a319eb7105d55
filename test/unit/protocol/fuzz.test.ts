import { createCipheriv, createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../src/index.js';
import {
  FrameDecoder,
  decodeSecureMessage,
  deriveEncryptionKey,
  encodeSecureMessage,
  parseAgentMessage,
  parseEvent,
  parseKeepalive,
  parseManagerMessage,
  parseMergedMg,
} from '../../../src/index.js';
import type { AgentKey } from '../../../src/index.js';
import { V, hex, keyFromLine } from './vectors.js';
import { mulberry32 } from '../../helpers/prng.js';

const prng = mulberry32;

const rnd = prng(0x5eed1234);
const int = (n: number) => Math.floor(rnd() * n);
const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const KEY = keyFromLine(V.vectors[0]!.inputs.key_line);
const KEYS: AgentKey[] = [KEY, { id: '002', name: 'other', ip: '10.0.0.5', key: 'f'.repeat(64) }];
const DK = deriveEncryptionKey(KEY);
const seeds = [...V.vectors.map((v) => hex(v.expected.payload_hex)), ...V.negative_vectors.map((v) => hex(v.payload_hex))];

function aesPayload(plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-cbc', DK.aes, Buffer.from('FEDCBA0987654321'));
  return Buffer.concat([Buffer.from('!001!#AES:'), c.update(plain), c.final()]);
}

const HEADERS = ['', '!', '!001', '!001!', '!001!#AES', '!001!#AES:', '#AES:', ':', '!002!:', '!99999999!#AES:', '!0x1!:', '#ping', '!!', '#AE:'];

function mutate(p: Buffer): Buffer {
  switch (int(7)) {
    case 0: {
      const m = Buffer.from(p);
      for (let k = 1 + int(3); k > 0; k--) {
        const i = int(m.length);
        m[i] = m[i]! ^ (1 << int(8));
      }
      return m;
    }
    case 1:
      return p.subarray(0, int(p.length + 1));
    case 2: {
      const i = int(p.length + 1);
      return Buffer.concat([p.subarray(0, i), bytes(1 + int(16)), p.subarray(i)]);
    }
    case 3: {
      const cut = p.indexOf(':') + 1;
      return Buffer.concat([Buffer.from(pick(HEADERS)), p.subarray(cut)]);
    }
    case 4:
      return bytes(int(200));
    case 5: {
      // Valid cipher, corrupt content: exercises the zlib, size, checksum and counter paths.
      const kind = int(4);
      if (kind === 0) return aesPayload(Buffer.concat([Buffer.from('!'), bytes(int(100))]));
      if (kind === 1) return aesPayload(Buffer.concat([Buffer.from('!!'), deflateSync(bytes(int(120)))]));
      const block = Buffer.from(`${int(99999)}`.padStart(5, '0') + `${int(1e9)}`.padStart(10, '0') + ':0001:1:x:y');
      block[int(kind === 2 ? 21 : block.length)] = int(256);
      const sum = createHash('md5').update(block).digest('hex');
      return aesPayload(Buffer.concat([Buffer.from('!'), deflateSync(Buffer.concat([Buffer.from(sum), block]))]));
    }
    default: {
      const m = Buffer.from(p);
      m.fill(int(256), int(m.length), int(m.length + 1));
      return m;
    }
  }
}

function onlyDecodeErrors(fn: () => unknown): 'ok' | 'err' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`not a DecodeError: ${String(e)}`, { cause: e });
    return 'err';
  }
}

describe('fuzz (seeded)', () => {
  it('decodeSecureMessage only returns or throws DecodeError on 12 000 mutated payloads', () => {
    const codes = new Map<string, number>();
    for (let i = 0; i < 12_000; i++) {
      const p = mutate(pick(seeds));
      const opts = i % 3 === 0 ? { keys: KEYS, sourceIp: pick(['10.0.0.5', '::ffff:10.0.0.5', '1.2.3.4']) } : { keys: KEYS };
      let code = 'ok';
      try {
        decodeSecureMessage(p, opts);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw new Error(`not a DecodeError: ${String(e)}`, { cause: e });
        code = e.code;
      }
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    // Every rejection path was reached.
    for (const code of ['ERR_DECODE_SIZE', 'ERR_DECODE_FORMAT', 'ERR_DECODE_UNKNOWN_AGENT', 'ERR_DECODE_DECRYPT', 'ERR_DECODE_COMPRESSION', 'ERR_DECODE_CHECKSUM']) {
      expect(codes.get(code), code).toBeGreaterThan(0);
    }
  });

  it('round-trips 1 500 random messages of random sizes, methods and counters', () => {
    for (let i = 0; i < 1500; i++) {
      const len = 1 + (i % 10 === 0 ? int(65408) : int(600));
      const msg = i % 2 ? bytes(len) : Buffer.alloc(len, 0x41 + int(26));
      const method = i % 2 ? 'aes' : 'blowfish';
      const counter = { global: int(2 ** 32), local: 1 + int(9997) };
      const random = int(65536);
      const r = decodeSecureMessage(encodeSecureMessage(msg, { key: KEY, method, sender: i % 4 ? 'agent' : 'manager', counter, random }), {
        keys: KEYS,
      });
      expect(r.message.equals(msg)).toBe(true);
      expect([r.method, r.global, r.local, r.random]).toEqual([method, counter.global, counter.local, random]);
    }
  });

  it('FrameDecoder returns exactly the frames sent, whatever the chunking', () => {
    for (let round = 0; round < 200; round++) {
      const payloads = Array.from({ length: 1 + int(12) }, () => bytes(int(10) === 0 ? int(5000) : int(40)));
      const stream = Buffer.concat(
        payloads.flatMap((p) => {
          const h = Buffer.alloc(4);
          h.writeUInt32LE(p.length);
          return [h, p];
        }),
      );
      const d = new FrameDecoder();
      const got: Buffer[] = [];
      for (let off = 0; off < stream.length; ) {
        const n = int(10) === 0 ? int(3000) : int(9);
        got.push(...d.push(stream.subarray(off, off + n)));
        off += n;
      }
      expect(got).toEqual(payloads);
      expect(d.buffered).toBe(0);
    }
  });

  it('FrameDecoder only throws DecodeError on random streams and never holds more than one frame', () => {
    for (let round = 0; round < 2000; round++) {
      const d = new FrameDecoder();
      const stream = bytes(int(300));
      if (stream.length >= 4 && int(2)) stream.writeUInt32LE(int(70000), 0);
      for (let off = 0; off < stream.length; ) {
        const n = 1 + int(20);
        if (onlyDecodeErrors(() => d.push(stream.subarray(off, off + n))) === 'err') break;
        expect(d.buffered).toBeLessThanOrEqual(4 + 65536);
        off += n;
      }
    }
  });

  it('message parsers only return or throw DecodeError on 12 000 random and mutated plaintexts', () => {
    const cat = V.message_catalog;
    const texts = [...Object.values(cat.agent_to_manager), ...Object.values(cat.manager_to_agent), ...Object.values(cat.manager_generated_for_analysisd)].map(
      (s) => Buffer.from(s),
    );
    const prefixes = ['#!-', '#!-req ', '#!-up file ', '#!-agent startup ', '#!-err ', '1:', 'x:', '#!-req 1 ', '!1 a\n', '#g\n!'];
    for (let i = 0; i < 12_000; i++) {
      let m: Buffer;
      const k = int(3);
      if (k === 0) m = mutate(pick(texts));
      else if (k === 1) m = Buffer.concat([Buffer.from(pick(prefixes)), bytes(int(60))]);
      else m = pick(texts).subarray(0, int(pick(texts).length + 1));
      onlyDecodeErrors(() => parseManagerMessage(m));
      onlyDecodeErrors(() => parseAgentMessage(m));
      onlyDecodeErrors(() => parseEvent(m));
      onlyDecodeErrors(() => parseEvent(m.toString('latin1')));
      onlyDecodeErrors(() => parseKeepalive(m.toString('utf8')));
      onlyDecodeErrors(() => parseMergedMg(m));
    }
  });
});
