import { createHash } from 'node:crypto';
import { deflateSync, inflateSync, constants as zc } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../src/index.js';
import { SMALL_DEFLATE_LIMIT, deflateBound, deflateInto, deflateZlib } from '../../../src/protocol/deflate.js';
import { SMALL_INFLATE_LIMIT, inflateZlib } from '../../../src/protocol/inflate.js';
import { mulberry32 } from '../../helpers/prng.js';

const rnd = mulberry32(0x2f1b0c);
const int = (n: number): number => Math.floor(rnd() * n);

const SYSLOG = 'Jan  1 00:00:00 web01 sshd[31337]: Accepted publickey for deploy from 10.20.30.40 port 52144 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4';
const FIM = '{"path":"/etc/passwd","mode":"realtime","size_after":"2373","perm_after":"rw-r--r--","uid_after":"0","md5_after":"0f3c2d9c6b1f0e5a4b3c2d1e0f9a8b7c"}';

/** A secure-message block as the encoder compresses it: md5 hex ‖ random global:local: ‖ message. */
function secureBlock(message: string, i: number): Buffer {
  const block = Buffer.from(`${String(i % 65536).padStart(5, '0')}${String(i >> 10).padStart(10, '0')}:${String(i % 9997).padStart(4, '0')}:${message}`, 'latin1');
  return Buffer.concat([Buffer.from(createHash('md5').update(block).digest('hex'), 'latin1'), block]);
}

/** Seeded inputs of several kinds: random bytes, small alphabets, text with repeats, zeros, log lines. */
function input(n: number): Buffer {
  const kind = int(6);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    if (kind === 0) b[i] = int(256);
    else if (kind === 1) b[i] = 97 + int(4);
    else if (kind === 2) b[i] = i > 10 && rnd() < 0.7 ? b[i - 1 - int(10)]! : 32 + int(90);
    else if (kind === 3) b[i] = 0;
    else if (kind === 4) b[i] = SYSLOG.charCodeAt(i % SYSLOG.length);
    else b[i] = i > 300 && rnd() < 0.9 ? b[i - 1 - int(300)]! : int(256);
  }
  return b;
}

/** Independent Adler-32 (RFC 1950 section 9), the slow way. */
function adler(data: Buffer): number {
  let a = 1;
  let b = 0;
  for (const x of data) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return (err as DecodeError).code;
  }
}

describe('deflateZlib', () => {
  it('level 0 writes a zlib header, stored blocks of the input and its Adler-32, without compressing', () => {
    for (const n of [0, 1, 223, 65_535, 65_536, 70_000]) {
      const data = input(n);
      const z = deflateZlib(data, 0);
      const blocks = Math.max(1, Math.ceil(n / 65_535));
      expect(z.length).toBe(2 + 5 * blocks + n + 4);
      expect(z.readUInt16BE(0) % 31).toBe(0);
      expect(z[0]).toBe(0x78);
      let off = 2;
      for (let k = 0; k < blocks; k++) {
        const len = Math.min(65_535, n - k * 65_535);
        expect(z[off]).toBe(k === blocks - 1 ? 1 : 0); // BFINAL, BTYPE 00
        expect(z.readUInt16LE(off + 1)).toBe(len);
        expect(z.readUInt16LE(off + 3)).toBe(~len & 0xffff);
        expect(z.subarray(off + 5, off + 5 + len).equals(data.subarray(k * 65_535, k * 65_535 + len))).toBe(true);
        off += 5 + len;
      }
      expect(z.readUInt32BE(off)).toBe(adler(data));
    }
  });

  it('every level round-trips through node:zlib and through inflateZlib, on seeded random inputs on both sides of the size limit', () => {
    for (let t = 0; t < 250; t++) {
      const n = t < 40 ? t : int(rnd() < 0.9 ? 2000 : 3 * SMALL_DEFLATE_LIMIT);
      const data = t % 3 === 0 ? secureBlock(input(Math.min(n, 1500)).toString('latin1'), t) : input(n);
      for (let level = 0; level <= 9; level++) {
        const z = deflateZlib(data, level);
        expect(z.length).toBeLessThanOrEqual(deflateBound(data.length));
        expect(inflateSync(z).equals(data)).toBe(true);
        expect(inflateZlib(z, 0, z.length, 1 << 20).equals(data)).toBe(true);
      }
    }
  });

  it('round-trips edge inputs at every level: tiny, long runs, longest matches, at the size limit, every byte value', () => {
    const edges: Buffer[] = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([255, 255]), Buffer.from('abc'), Buffer.from('aaaa')];
    for (const n of [257, 258, 259, 261, 1000, SMALL_DEFLATE_LIMIT - 1, SMALL_DEFLATE_LIMIT, SMALL_DEFLATE_LIMIT + 1]) {
      edges.push(Buffer.alloc(n, 0x61)); // one run: matches of 258 back to back
      edges.push(Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) % 256))); // every byte value, repeating every 256
      edges.push(Buffer.from(Array.from({ length: n }, (_, i) => (i % 300 < 150 ? 0x20 + (i % 61) : int(256))))); // text-ish and random halves
    }
    edges.push(Buffer.concat([input(300), Buffer.alloc(600, 0), input(300)]));
    for (const data of edges) {
      for (let level = 0; level <= 9; level++) {
        const z = deflateZlib(data, level);
        expect(z.length).toBeLessThanOrEqual(deflateBound(data.length));
        expect(inflateSync(z).equals(data)).toBe(true);
        expect(inflateZlib(z, 0, z.length, 1 << 20).equals(data)).toBe(true);
      }
    }
  });

  it('gives the same bytes for a range of a larger input, a plain Uint8Array or a Buffer, as for a copy of the range', () => {
    for (let t = 0; t < 60; t++) {
      const data = t % 2 === 0 ? secureBlock(input(int(600)).toString('latin1'), t) : input(int(3000));
      const pad = 1 + int(40);
      const big = new Uint8Array(pad + data.length + pad);
      big.set(data, pad);
      const level = 1 + (t % 9);
      const dest = new Uint8Array(deflateBound(data.length));
      const n = deflateInto(big, pad, pad + data.length, level, dest, 0);
      expect(Buffer.from(dest.subarray(0, n)).equals(deflateZlib(data, level))).toBe(true);
    }
  });

  it('compresses secure-message blocks to within 3 % of zlib level 9, at every level from 1 to 9', () => {
    const messages = [`1:/var/log/auth.log:${SYSLOG}`, `8:syscheck:${FIM}`, '#!-agent startup {"version":"v4.14.7"}', `1:app:${SYSLOG.repeat(3)}`];
    for (let level = 1; level <= 9; level++) {
      let ours = 0;
      let zlib = 0;
      for (let i = 0; i < 200; i++) {
        const block = secureBlock(messages[i % messages.length]!, i * 7919);
        const mine = deflateZlib(block, level).length;
        const theirs = deflateSync(block, { level: 9 }).length;
        expect(mine).toBeLessThanOrEqual(Math.ceil(theirs * 1.03));
        ours += mine;
        zlib += theirs;
      }
      expect(ours).toBeLessThanOrEqual(zlib * 1.03);
    }
  });

  it('keeps the TypeScript deflate to inputs whose every match is within zlib reach (the window less its lookahead)', () => {
    // longestMatch does not check distances against 32 768 - 262
    expect(SMALL_DEFLATE_LIMIT).toBeLessThanOrEqual(32_768 - 262);
  });

  it('falls back to a stored block for incompressible data and to fixed codes for tiny inputs, as zlib does', () => {
    const random = Buffer.from(Array.from({ length: 500 }, () => int(256)));
    const z = deflateZlib(random, 9);
    expect(z.length).toBe(2 + 5 + 500 + 4);
    expect(z[2]! & 0b111).toBe(0b001);
    const tiny = deflateZlib(Buffer.from('abc'), 9);
    expect(tiny[2]! & 0b111).toBe(0b011); // BFINAL, fixed codes
    expect(inflateSync(tiny).toString()).toBe('abc');
  });

  it('limits skewed codes to 15 bits (7 for the code-length code) and still round-trips, long matches and far distances included', () => {
    // symbol weights along the Fibonacci sequence make an unlimited Huffman code deeper than 15 bits
    const fib = [1, 1];
    while (fib.length < 24) fib.push(fib.at(-1)! + fib.at(-2)!);
    const total = fib.reduce((a, b) => a + b, 0);
    for (let t = 0; t < 6; t++) {
      const parts: number[] = [];
      for (let s = 0; s < fib.length; s++) for (let k = 0; k < Math.ceil((fib[s]! * SMALL_DEFLATE_LIMIT) / total / 2); k++) parts.push(s * 7 + t);
      const data = Buffer.from(parts.map((v) => v & 0xff));
      for (let i = data.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [data[i], data[j]] = [data[j]!, data[i]!];
      }
      // long and short repeats at near and far distances, so rare length and distance codes get long codes too
      for (let k = 0; k < 40; k++) {
        const len = 3 + int(255);
        const from = int(data.length - len);
        const to = from + 1 + int(Math.min(8000, data.length - from - len));
        if (to + len <= data.length) data.copy(data, to, from, from + len);
      }
      for (const level of [1, 6, 9]) {
        const z = deflateZlib(data, level);
        expect(inflateSync(z).equals(data)).toBe(true);
        expect(inflateZlib(z, 0, z.length, 1 << 20).equals(data)).toBe(true);
      }
    }
  });

  it('writes at an offset inside a larger buffer and leaves the bytes around it alone', () => {
    const data = secureBlock(`1:x:${SYSLOG}`, 3);
    const dest = Buffer.alloc(8 + deflateBound(data.length) + 8, 0xee);
    const n = deflateInto(data, 0, data.length, 9, dest, 8);
    expect(dest.subarray(0, 8).every((b) => b === 0xee)).toBe(true);
    expect(dest.subarray(8 + n).every((b) => b === 0xee)).toBe(true);
    expect(inflateSync(dest.subarray(8, 8 + n)).equals(data)).toBe(true);
    const inner = deflateInto(data, 10, 60, 6, dest, 0);
    expect(inflateSync(dest.subarray(0, inner)).equals(data.subarray(10, 60))).toBe(true);
  });

  it('gives the same bytes for the same input whatever was compressed before', () => {
    const data = secureBlock(`1:x:${SYSLOG}`, 11);
    const first = deflateZlib(data, 9);
    for (let i = 0; i < 50; i++) deflateZlib(input(int(3000)), 1 + int(9));
    expect(deflateZlib(data, 9).equals(first)).toBe(true);
  });

  it('gives the same bytes after a call that threw halfway (destination too small) left its counts behind', () => {
    const data = secureBlock(`1:x:${SYSLOG}`, 12);
    const first = deflateZlib(data, 9);
    const random = Buffer.from(Array.from({ length: 600 }, () => int(256)));
    // incompressible: the stored block does not fit, after the match search counted every symbol
    expect(() => deflateInto(random, 0, random.length, 9, Buffer.alloc(64), 0)).toThrow(RangeError);
    expect(deflateZlib(data, 9).equals(first)).toBe(true);
    expect(inflateSync(deflateZlib(random, 9)).equals(random)).toBe(true);
  });
});

describe('inflateZlib', () => {
  const strategies = [zc.Z_DEFAULT_STRATEGY, zc.Z_FILTERED, zc.Z_HUFFMAN_ONLY, zc.Z_RLE, zc.Z_FIXED];

  it('inflates what node:zlib writes at every level and strategy, with or without trailing bytes', () => {
    for (let t = 0; t < 600; t++) {
      const data = t % 2 === 0 ? secureBlock(input(int(400)).toString('latin1'), t) : input(int(rnd() < 0.9 ? 600 : 8000));
      const z = deflateSync(data, { level: int(10), strategy: strategies[t % strategies.length]!, windowBits: 9 + int(7) });
      expect(inflateZlib(z, 0, z.length, 65_536).equals(data)).toBe(true);
      const trailing = Buffer.concat([Buffer.from('xx'), z, Buffer.from('trailing')]);
      expect(inflateZlib(trailing, 2, trailing.length, 65_536).equals(data)).toBe(true);
    }
  });

  it('accepts and rejects exactly what node:zlib does on mutated streams, and only with ERR_DECODE_COMPRESSION', () => {
    let rejected = 0;
    for (let t = 0; t < 3000; t++) {
      const data = t % 2 === 0 ? secureBlock(input(int(300)).toString('latin1'), t) : input(int(500));
      let z = Buffer.from(deflateSync(data, { level: int(10), strategy: strategies[t % strategies.length]! }));
      for (let m = 1 + int(3); m > 0; m--) {
        const pos = int(z.length);
        switch (int(4)) {
          case 0:
            z[pos]! ^= 1 << int(8);
            break;
          case 1:
            z[pos] = int(256);
            break;
          case 2:
            z = z.subarray(0, pos);
            break;
          default:
            z = Buffer.concat([z, Buffer.from([int(256)])]);
        }
      }
      let expected: Buffer | undefined;
      try {
        expected = inflateSync(z, { maxOutputLength: 65_536 });
      } catch {
        expected = undefined;
      }
      if (expected === undefined) {
        rejected++;
        expect(code(() => inflateZlib(z, 0, z.length, 65_536))).toBe('ERR_DECODE_COMPRESSION');
      } else {
        expect(inflateZlib(z, 0, z.length, 65_536).equals(expected)).toBe(true);
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it('rejects a wrong header, a preset dictionary, a wrong Adler-32, a truncated stream and output over the limit', () => {
    const data = Buffer.from(SYSLOG.repeat(4));
    const z = deflateSync(data);
    const bad = (b: Buffer, max = 65_536) => code(() => inflateZlib(b, 0, b.length, max));
    expect(bad(Buffer.from([0x79, 0x9c, ...z.subarray(2)]))).toBe('ERR_DECODE_COMPRESSION');
    expect(bad(Buffer.from([0x78, 0xbb, ...z.subarray(2)]))).toBe('ERR_DECODE_COMPRESSION'); // FDICT (0x78bb % 31 == 0)
    const wrongSum = Buffer.from(z);
    wrongSum[wrongSum.length - 1]! ^= 1;
    expect(bad(wrongSum)).toBe('ERR_DECODE_COMPRESSION');
    expect(bad(z.subarray(0, z.length - 1))).toBe('ERR_DECODE_COMPRESSION');
    expect(bad(z.subarray(0, 1))).toBe('ERR_DECODE_COMPRESSION');
    expect(bad(z, data.length - 1)).toBe('ERR_DECODE_COMPRESSION');
    expect(inflateZlib(z, 0, z.length, data.length).equals(data)).toBe(true);
  });

  /**
   * A zlib stream of one dynamic block written bit by bit: HLIT 257 + `extraLit`, HDIST 2, a
   * code-length code giving symbols 1 and 16 two bits and 18 (and 17) one or two, then the lengths
   * as `lengthCodes` (symbol, extra value), then the data: literal 255 (code 0) and end of block (code 1).
   */
  function handBlock(extraLit: number, lengthCodes: [number, number][]): Buffer {
    const bytes: number[] = [0x78, 0x01];
    let acc = 0;
    let n = 0;
    const put = (v: number, bits: number): void => {
      acc |= v << n;
      n += bits;
      while (n >= 8) {
        bytes.push(acc & 0xff);
        acc >>>= 8;
        n -= 8;
      }
    };
    /** MSB-first Huffman code, written LSB first as deflate does. */
    const putCode = (code: number, len: number): void => {
      for (let i = len - 1; i >= 0; i--) put((code >> i) & 1, 1);
    };
    // code-length code over {1, 16, 17, 18}: 1 -> 00, 16 -> 01, 17 -> 10, 18 -> 11 (all two bits)
    const clCodes: Record<number, number> = { 1: 0, 16: 1, 17: 2, 18: 3 };
    const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
    put(1, 1); // final
    put(2, 2); // dynamic
    put(extraLit, 5); // HLIT - 257
    put(1, 5); // HDIST - 1
    put(order.length - 4, 4); // HCLEN - 4
    for (const sym of order) put(sym in clCodes ? 2 : 0, 3);
    const extraBits: Record<number, number> = { 16: 2, 17: 3, 18: 7 };
    for (const [sym, extra] of lengthCodes) {
      putCode(clCodes[sym]!, 2);
      if (sym >= 16) put(extra, extraBits[sym]!);
    }
    // literal/length code: 255 -> 0, 256 -> 1 (one bit each); the distance code is empty or unused
    putCode(0, 1);
    putCode(1, 1);
    if (n > 0) bytes.push(acc & 0xff);
    const sum = adler(Buffer.from([0xff]));
    bytes.push(sum >>> 24, (sum >>> 16) & 0xff, (sum >>> 8) & 0xff, sum & 0xff);
    return Buffer.from(bytes);
  }

  it('reads code-length repeats that run from the literal/length lengths into the distance lengths, as zlib does', () => {
    // 255 zeros (18: 138, 18: 117), length 1 at 255, then 16 repeats it 3 times: 256 | 257, 258 (the distances)
    const nonzero = handBlock(0, [
      [18, 127],
      [18, 106],
      [1, 0],
      [16, 0],
    ]);
    // HLIT 258: 255 zeros, lengths 1 at 255 and 256, then 17 writes 3 zeros: 257 | 258, 259 (an empty distance code)
    const zeros = handBlock(1, [
      [18, 127],
      [18, 106],
      [1, 0],
      [1, 0],
      [17, 0],
    ]);
    for (const z of [nonzero, zeros]) {
      expect(inflateSync(z)).toEqual(Buffer.from([0xff]));
      expect(inflateZlib(z, 0, z.length, 100)).toEqual(Buffer.from([0xff]));
    }
    // one repeat too many runs past the last distance length: both refuse it
    const over = handBlock(0, [
      [18, 127],
      [18, 106],
      [1, 0],
      [16, 1],
    ]);
    expect(() => inflateSync(over)).toThrow();
    expect(code(() => inflateZlib(over, 0, over.length, 100))).toBe('ERR_DECODE_COMPRESSION');
  });

  it('inflates at exactly the output limit and refuses one byte less, whether the stream ends in the fast loop or near the end', () => {
    // long matches (up to 258), distance-1 runs, short overlapping copies and literals, at every strategy
    const kinds = [
      (n: number) => Buffer.alloc(n, 0x61),
      (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i % 3 === 0 ? int(256) : 0x20))),
      (n: number) => Buffer.concat([input(50), Buffer.alloc(n, 7), input(50), Buffer.alloc(n >> 1, 9)]),
      (n: number) => Buffer.from(SYSLOG.repeat(Math.ceil(n / SYSLOG.length)).slice(0, n)),
      (n: number) => secureBlock(input(n).toString('latin1'), n),
    ];
    for (let t = 0; t < 200; t++) {
      const data = kinds[t % kinds.length]!(1 + int(t < 100 ? 300 : 30_000));
      const z = deflateSync(data, { level: int(10), strategy: strategies[t % strategies.length]!, memLevel: 1 + int(9) });
      if (z.length > SMALL_INFLATE_LIMIT) continue;
      expect(inflateZlib(z, 0, z.length, data.length).equals(data)).toBe(true);
      expect(code(() => inflateZlib(z, 0, z.length, data.length - 1))).toBe('ERR_DECODE_COMPRESSION');
      expect(() => inflateSync(z, { maxOutputLength: data.length - 1 })).toThrow();
    }
  });

  it('never lets the bytes after the end decide: a truncated or corrupted stream inside a larger buffer gets the verdict of the stream alone', () => {
    // the symbol loop reads up to a few bytes past `end` (then refuses any symbol that used them)
    let rejected = 0;
    for (let t = 0; t < 1500; t++) {
      const data = t % 2 === 0 ? secureBlock(input(int(300)).toString('latin1'), t) : input(int(500));
      const full = Buffer.from(deflateSync(data, { level: int(10), strategy: strategies[t % strategies.length]!, memLevel: 1 + int(9) }));
      let z = full;
      if (t % 3 !== 0) z = full.subarray(0, int(full.length));
      else z[int(z.length)]! ^= 1 << int(8);
      let expected: Buffer | undefined;
      try {
        expected = inflateSync(z, { maxOutputLength: 65_536 });
      } catch {
        expected = undefined;
      }
      // a truncated stream is followed by the rest of it, a corrupted one by random bytes
      const after = t % 3 !== 0 ? full.subarray(z.length) : Buffer.from(Array.from({ length: 16 }, () => int(256)));
      const inside = Buffer.concat([Buffer.from([int(256), int(256)]), z, after]);
      if (expected === undefined) {
        rejected++;
        expect(code(() => inflateZlib(inside, 2, 2 + z.length, 65_536))).toBe('ERR_DECODE_COMPRESSION');
      } else {
        expect(inflateZlib(inside, 2, 2 + z.length, 65_536).equals(expected)).toBe(true);
      }
    }
    expect(rejected).toBeGreaterThan(900);
  });

  it('refuses every truncation of a stream, of one block or many, as node:zlib does, and inflates it again whole', () => {
    for (let t = 0; t < 16; t++) {
      const data = t % 2 === 0 ? secureBlock(`1:x:${SYSLOG}`, t) : Buffer.concat([input(200), Buffer.alloc(600, t)]);
      // memLevel 1 ends a block every 128 symbols: a cut may fall between blocks
      const z = deflateSync(data, { level: 1 + (t % 9), strategy: strategies[t % strategies.length]!, memLevel: t < 8 ? 8 : 1 });
      for (let cut = 0; cut < z.length; cut++) {
        expect(() => inflateSync(z.subarray(0, cut))).toThrow('unexpected end of file');
        // the rest of the stream after the end, or nothing (reads past the array)
        expect(() => inflateZlib(z, 0, cut, 65_536)).toThrow('unexpected end of file');
        expect(() => inflateZlib(Buffer.from(z.subarray(0, cut)), 0, cut, 65_536)).toThrow('unexpected end of file');
      }
      expect(inflateZlib(z, 0, z.length, 65_536).equals(data)).toBe(true);
    }
  });

  it('gives the same answers above the size limit, where node:zlib does the work', () => {
    const data = input(SMALL_INFLATE_LIMIT * 4);
    const z = deflateSync(data, { level: 0 });
    expect(z.length).toBeGreaterThan(SMALL_INFLATE_LIMIT);
    expect(inflateZlib(z, 0, z.length, 1 << 20).equals(data)).toBe(true);
    expect(code(() => inflateZlib(z, 0, z.length, 100))).toBe('ERR_DECODE_COMPRESSION');
    expect(code(() => inflateZlib(z, 0, z.length - 1, 1 << 20))).toBe('ERR_DECODE_COMPRESSION');
  });
});
