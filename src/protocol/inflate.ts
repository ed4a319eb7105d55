/**
 * Decompression of zlib streams (RFC 1950 around RFC 1951) for secure messages, without a zlib
 * stream object per message.
 *
 * Why this is written here and not left to `node:zlib`: `zlib.inflateSync` builds a stream object
 * and a native inflate state for every call, which costs more than inflating the ~200 bytes of a
 * secure message (issue 12: the manager side decodes every event). Streams up to
 * {@link SMALL_INFLATE_LIMIT} bytes are inflated here; longer ones by `zlib.inflateSync`. Both
 * accept and reject the same streams as zlib does: header check, no preset dictionary, stored
 * length check, complete codes (a single one-bit code and an empty distance code excepted, as zlib
 * allows), no symbol or distance out of range, Adler-32 verified; bytes after the end of the stream
 * are ignored. The output is bounded by the caller's limit.
 *
 * Pure: the working tables are module-level scratch, reused across calls and never observable.
 *
 * @internal
 * @module
 */
import { inflateSync } from 'node:zlib';
import { DecodeError } from '../errors.js';
import {
  CODELEN_CODES,
  CODELEN_ORDER,
  DIST_BASE,
  DIST_CODES,
  DIST_EXTRA,
  END_OF_BLOCK,
  FIXED_DIST_LENGTHS,
  FIXED_LITLEN_LENGTHS,
  LENGTH_BASE,
  LENGTH_EXTRA,
  LITLEN_CODES,
  MAX_BITS,
  adler32,
  reverseBits,
} from './zlib-format.js';

/** Streams up to this many bytes are inflated by the TypeScript inflater; longer ones by `node:zlib`. */
export const SMALL_INFLATE_LIMIT = 4096;

/** Bits looked up at once; longer codes finish bit by bit. */
const TABLE_BITS = 9;

// A table entry holds all a decoder needs of one code: its length in bits (0 for no code: a
// prefix of a longer one, or not a code at all), and what the symbol means, the length or distance
// base and extra bits folded in (zlib's `inflate_fast` style), so that one lookup decodes it.
/** Entry bits 0-3: the code's length in bits. */
const E_BITS = 15;
/** Entry flag: a literal byte, in bits 16-23. */
const E_LIT = 0x100;
/** Entry flag: the end-of-block symbol. */
const E_EOB = 0x200;
/** Entry flag: a symbol that may not occur (literal/length 286-287, distance 30-31 of the fixed codes). */
const E_BAD = 0x400;
// Otherwise a length or distance: base in bits 16-30, extra bits in bits 4-7.

/** What each literal/length symbol means, as a table entry without the code length. */
const LIT_INFO = Int32Array.from({ length: 288 }, (_, s) => {
  if (s < END_OF_BLOCK) return E_LIT | (s << 16);
  if (s === END_OF_BLOCK) return E_EOB;
  if (s - 257 < LENGTH_BASE.length) return (LENGTH_BASE[s - 257]! << 16) | (LENGTH_EXTRA[s - 257]! << 4);
  return E_BAD;
});
/** What each distance symbol means, as a table entry without the code length. */
const DIST_INFO = Int32Array.from({ length: 32 }, (_, s) => (s < DIST_BASE.length ? (DIST_BASE[s]! << 16) | (DIST_EXTRA[s]! << 4) : E_BAD));
/** Code-length symbols: the symbol itself in bits 16-20. */
const CL_INFO = Int32Array.from({ length: CODELEN_CODES }, (_, s) => s << 16);

/** A canonical Huffman code: lengths histogram, symbols in code order, and a lookup table. */
interface Code {
  /** Codes of each length. */
  count: Uint16Array;
  /** Symbols ordered by code (only kept for codes longer than the table). */
  symbol: Uint16Array;
  /** What each symbol means (`LIT_INFO`, `DIST_INFO` or `CL_INFO`). */
  info: Int32Array;
  /** Indexed by the next `bits` input bits (LSB first): an entry, or 0 for a longer (or invalid) code. */
  table: Int32Array;
  /** Bits looked up at once: the longest code, at most TABLE_BITS. */
  bits: number;
  /** Whether the code has no symbols at all (a distance code of a literal-only block). */
  empty: boolean;
  /** Whether some codes are longer than the table. */
  long: boolean;
  /** For the codes longer than the table: the first code of length `bits + 1`, canonical order. */
  first: number;
  /** For the codes longer than the table: the number of codes up to `bits` long (where `symbol` goes on). */
  index: number;
  /** Error detail of a symbol that is not a code. */
  invalid: string;
}

function newCode(symbols: number, info: Int32Array, invalid: string): Code {
  return {
    count: new Uint16Array(MAX_BITS + 1),
    symbol: new Uint16Array(symbols),
    info,
    table: new Int32Array(1 << TABLE_BITS),
    bits: 1,
    empty: false,
    long: false,
    first: 0,
    index: 0,
    invalid,
  };
}

const litCode = newCode(288, LIT_INFO, 'invalid code');
const distCode = newCode(32, DIST_INFO, 'invalid distance code');
const clCode = newCode(CODELEN_CODES, CL_INFO, 'invalid code lengths set');
const fixedLit = newCode(288, LIT_INFO, 'invalid code');
const fixedDist = newCode(32, DIST_INFO, 'invalid distance code');
const offs = new Uint16Array(MAX_BITS + 2);
const lengths = new Uint8Array(LITLEN_CODES + DIST_CODES + 2);
const nextCode = new Uint16Array(MAX_BITS + 2);

function bad(detail: string): DecodeError {
  return new DecodeError(`Invalid zlib stream: ${detail}`, 'ERR_DECODE_COMPRESSION');
}

function eof(): DecodeError {
  return bad('unexpected end of file');
}

/**
 * The nonzero code lengths, in order: their positions (ascending) and the lengths.
 * {@link dynamic} records them while it reads the lengths, so that building a code follows the
 * ~60 symbols a short message uses rather than all 286 (+ 30) lengths.
 */
const nonzero = new Uint16Array(LITLEN_CODES + DIST_CODES + 2);
const nonzeroLen = new Uint8Array(LITLEN_CODES + DIST_CODES + 2);

/** Lists the nonzero lengths of `lens[start, start + n)` in {@link nonzero}; returns how many. */
function scanNonzero(lens: Uint8Array, start: number, n: number): number {
  let k = 0;
  for (let s = start; s < start + n; s++) {
    if (lens[s] === 0) continue;
    nonzero[k] = s;
    nonzeroLen[k++] = lens[s]!;
  }
  return k;
}

/**
 * Builds `code` from the lengths of symbols `[start, start + n)`, whose nonzero ones are
 * `nonzero[from, to)` (positions, ascending) and `nonzeroLen[from, to)`. Throws on an over-subscribed code, and on an incomplete one
 * unless `incompleteOk` and it is a single one-bit code (zlib's rule for literal/length and
 * distance codes); an all-zero code is accepted only when `emptyOk`.
 */
function buildCode(code: Code, start: number, n: number, from: number, to: number, incompleteOk: boolean, emptyOk: boolean, what: string): void {
  const count = code.count;
  for (let l = 0; l <= MAX_BITS; l++) count[l] = 0;
  for (let k = from; k < to; k++) count[nonzeroLen[k]!]!++;
  code.empty = from === to;
  if (code.empty) {
    if (!emptyOk) throw bad(`empty ${what} code`);
    code.bits = 0;
    code.long = false;
    code.table[0] = 0;
    return;
  }
  count[0] = n - (to - from);
  let left = 1;
  let maxLen = 0;
  for (let l = 1; l <= MAX_BITS; l++) {
    left = (left << 1) - count[l]!;
    if (left < 0) throw bad(`over-subscribed ${what} code`);
    if (count[l] !== 0) maxLen = l;
  }
  if (left > 0 && !(incompleteOk && maxLen === 1)) throw bad(`incomplete ${what} code`);
  // lookup table over the longest code's bits (at most TABLE_BITS): every code that fits,
  // bit-reversed, replicated over the unused high bits; the table of a short code stays small.
  // A complete code writes every entry: a code that fits, or 0 for the prefix of a longer one; the
  // entries of an incomplete one (the unused half of a single one-bit code) are cleared first.
  const bits = maxLen < TABLE_BITS ? maxLen : TABLE_BITS;
  const size = 1 << bits;
  code.bits = bits;
  code.long = maxLen > bits;
  const table = code.table;
  const info = code.info;
  if (left !== 0) table.fill(0, 0, size);
  let c = 0;
  nextCode[1] = 0;
  for (let l = 2; l <= maxLen; l++) {
    c = (c + count[l - 1]!) << 1;
    nextCode[l] = c;
  }
  for (let k = from; k < to; k++) {
    const l = nonzeroLen[k]!;
    const v = nextCode[l]!++;
    if (l > bits) {
      // the entry of its first `bits` bits reads 0 (finish bit by bit), as for every longer code there
      table[reverseBits(v >>> (l - bits), bits)] = 0;
      continue;
    }
    const entry = info[nonzero[k]! - start]! | l;
    for (let i = reverseBits(v, l); i < size; i += 1 << l) table[i] = entry;
  }
  if (maxLen > bits) {
    // symbols in code order, for the codes longer than the table (decoded bit by bit from `bits + 1`)
    offs[1] = 0;
    for (let l = 1; l < MAX_BITS; l++) offs[l + 1] = offs[l]! + count[l]!;
    for (let k = from; k < to; k++) code.symbol[offs[nonzeroLen[k]!]!++] = nonzero[k]! - start;
    code.first = nextCode[bits + 1]! - count[bits + 1]!;
    let index = 0;
    for (let l = 1; l <= bits; l++) index += count[l]!;
    code.index = index;
  }
}

buildCode(fixedLit, 0, 288, 0, scanNonzero(FIXED_LITLEN_LENGTHS, 0, 288), false, false, 'fixed');
buildCode(fixedDist, 0, 32, 0, scanNonzero(FIXED_DIST_LENGTHS, 0, 32), false, false, 'fixed');

/**
 * The entry of a code the table does not hold (longer than its `bits`), decoded bit by bit in
 * canonical order from the bits of `buf` (at least 15 of them), from length `bits + 1` on; nothing
 * is consumed. 0 when no code matches (or the code has none longer than the table).
 */
function longEntry(code: Code, buf: number): number {
  if (!code.long) return 0;
  const bits = code.bits;
  // the first `bits` bits, most significant first: no code up to that length matched them
  let c = reverseBits(buf & ((1 << bits) - 1), bits);
  let first = code.first;
  let index = code.index;
  const count = code.count;
  for (let l = bits + 1; l <= MAX_BITS; l++) {
    c = (c << 1) | ((buf >>> (l - 1)) & 1);
    const n = count[l]!;
    if (c - first < n) return code.info[code.symbol[index + (c - first)]!]! | l;
    index += n;
    first = (first + n) << 1;
  }
  return 0;
}

/**
 * What to throw from the symbol loop: `err`, unless the symbol it refuses used bits past the end
 * of the input (`ip` bytes read, `bc` of their bits unused), where the stream is truncated.
 */
function orEof(ip: number, end: number, bc: number, err: () => DecodeError): DecodeError {
  return ip > end && (ip - end) * 8 > bc ? eof() : err();
}

// --- bit input --------------------------------------------------------------------------------
// Between the steps of a stream the input state lives here; the loops that decode symbols copy it
// into locals and write it back.

let inBuf: Uint8Array = new Uint8Array(0);
let inPos = 0;
let inEnd = 0;
let bitBuf = 0;
let bitCount = 0;

function bits(n: number): number {
  while (bitCount < n) {
    if (inPos >= inEnd) throw eof();
    bitBuf |= inBuf[inPos++]! << bitCount;
    bitCount += 8;
  }
  const v = bitBuf & ((1 << n) - 1);
  bitBuf >>>= n;
  bitCount -= n;
  return v;
}

// --- blocks -----------------------------------------------------------------------------------

let outBuf: Uint8Array = new Uint8Array(0);
let outPos = 0;
let outMax = 0;

function tooLarge(): DecodeError {
  return bad(`output exceeds ${outMax} bytes`);
}

function stored(): void {
  // skip to the byte boundary; whole bytes already in the bit buffer are given back
  inPos -= bitCount >>> 3;
  bitBuf = 0;
  bitCount = 0;
  if (inPos + 4 > inEnd) throw eof();
  const len = inBuf[inPos]! | (inBuf[inPos + 1]! << 8);
  const nlen = inBuf[inPos + 2]! | (inBuf[inPos + 3]! << 8);
  inPos += 4;
  if (len !== (~nlen & 0xffff)) throw bad('invalid stored block lengths');
  if (inPos + len > inEnd) throw eof();
  if (outPos + len > outMax) throw tooLarge();
  outBuf.set(inBuf.subarray(inPos, inPos + len), outPos);
  outPos += len;
  inPos += len;
}

/** Matches at least this long are copied with `copyWithin` (when they do not overlap); shorter ones byte by byte. */
const COPY_WITHIN_MIN = 32;

/**
 * Decodes the symbols of one block up to its end-of-block, without a bound check per input byte:
 * the bit buffer is topped up two bytes at a time to at least 15 bits, reading past `inEnd` (bytes
 * there, or `undefined` past the array, which reads as 0) near the end, and once per symbol the
 * bits consumed are checked against the input's end. A symbol that used bits past the end is
 * refused as a truncated stream, whatever those bits made of it, so the stream is accepted or
 * refused as zlib does, for zlib's reason; the output is checked per symbol.
 */
function codes(lit: Code, dist: Code): void {
  const lt = lit.table;
  const lmask = (1 << lit.bits) - 1;
  const dt = dist.table;
  const dmask = (1 << dist.bits) - 1;
  const input = inBuf;
  const end = inEnd;
  const out = outBuf;
  const max = outMax;
  let bb = bitBuf;
  let bc = bitCount;
  let ip = inPos;
  let op = outPos;
  for (;;) {
    // the previous symbol read no bit past the end
    if (ip > end && (ip - end) * 8 > bc) throw eof();
    if (bc < 15) {
      bb |= (input[ip]! << bc) | (input[ip + 1]! << (bc + 8));
      ip += 2;
      bc += 16;
    }
    let e = lt[bb & lmask]!;
    if (e === 0) {
      e = longEntry(lit, bb);
      if (e === 0) throw orEof(ip, end, bc, () => bad(lit.invalid));
    }
    let l = e & E_BITS;
    bb >>>= l;
    bc -= l;
    if ((e & E_LIT) !== 0) {
      if (op >= max) throw orEof(ip, end, bc, tooLarge);
      out[op++] = e >>> 16;
      continue;
    }
    if ((e & (E_EOB | E_BAD)) !== 0) {
      if ((e & E_BAD) !== 0) throw orEof(ip, end, bc, () => bad('invalid literal/length code'));
      if (ip > end) {
        // give back the bits read past the end, so that what follows reads only the input
        if ((ip - end) * 8 > bc) throw eof();
        bc -= (ip - end) * 8;
        bb &= (1 << bc) - 1;
        ip = end;
      }
      break;
    }
    let len = e >>> 16;
    let x = (e >>> 4) & 15;
    if (x !== 0) {
      if (bc < x) {
        bb |= input[ip++]! << bc;
        bc += 8;
      }
      len += bb & ((1 << x) - 1);
      bb >>>= x;
      bc -= x;
    }
    if (bc < 15) {
      bb |= (input[ip]! << bc) | (input[ip + 1]! << (bc + 8));
      ip += 2;
      bc += 16;
    }
    e = dt[bb & dmask]!;
    if (e === 0) {
      e = longEntry(dist, bb);
      if (e === 0) throw orEof(ip, end, bc, () => bad(dist.invalid));
    }
    l = e & E_BITS;
    bb >>>= l;
    bc -= l;
    if ((e & E_BAD) !== 0) throw orEof(ip, end, bc, () => bad('invalid distance code'));
    let d = e >>> 16;
    x = (e >>> 4) & 15;
    if (x !== 0) {
      if (bc < x) {
        bb |= (input[ip]! << bc) | (input[ip + 1]! << (bc + 8));
        ip += 2;
        bc += 16;
      }
      d += bb & ((1 << x) - 1);
      bb >>>= x;
      bc -= x;
    }
    if (d > op) throw orEof(ip, end, bc, () => bad('invalid distance too far back'));
    if (op + len > max) throw orEof(ip, end, bc, tooLarge);
    let from = op - d;
    if (len >= COPY_WITHIN_MIN && d >= len) {
      out.copyWithin(op, from, from + len);
      op += len;
    } else {
      const stop = op + len;
      while (op < stop) out[op++] = out[from++]!;
    }
  }
  bitBuf = bb;
  bitCount = bc;
  inPos = ip;
  outPos = op;
}

function dynamic(): void {
  const nlen = bits(5) + 257;
  const ndist = bits(5) + 1;
  const ncode = bits(4) + 4;
  if (nlen > LITLEN_CODES || ndist > DIST_CODES) throw bad('too many length or distance symbols');
  for (let i = 0; i < CODELEN_CODES; i++) lengths[i] = 0;
  for (let i = 0; i < ncode; i++) lengths[CODELEN_ORDER[i]!] = bits(3);
  buildCode(clCode, 0, CODELEN_CODES, 0, scanNonzero(lengths, 0, CODELEN_CODES), false, false, 'code lengths');
  // the code-length code is complete and at most 7 bits long: every entry of its table is a code
  const ct = clCode.table;
  const cmask = (1 << clCode.bits) - 1;
  const input = inBuf;
  const end = inEnd;
  let bb = bitBuf;
  let bc = bitCount;
  let ip = inPos;
  let i = 0;
  const total = nlen + ndist;
  // Only the nonzero lengths are kept (in `nonzero` and `nonzeroLen`, where the distance lengths'
  // begin in `litEnd`): zeros, most of the 286 + 30, are skipped; `prev` is the length a repeat copies.
  let nz = 0;
  let litEnd = -1;
  let prev = 0;
  while (i < total) {
    if (litEnd < 0 && i >= nlen) litEnd = nz;
    // a code-length symbol and its repeat bits take at most 7 + 7 bits
    if (bc < 14) {
      if (ip + 2 <= end) {
        bb |= (input[ip]! << bc) | (input[ip + 1]! << (bc + 8));
        ip += 2;
        bc += 16;
      } else {
        while (bc < 14 && ip < end) {
          bb |= input[ip++]! << bc;
          bc += 8;
        }
      }
    }
    const e = ct[bb & cmask]!;
    const l = e & E_BITS;
    if (l > bc) throw eof();
    bb >>>= l;
    bc -= l;
    const sym = e >>> 16;
    if (sym < 16) {
      if (sym !== 0) {
        nonzero[nz] = i;
        nonzeroLen[nz++] = sym;
      }
      prev = sym;
      i++;
      continue;
    }
    let rep: number;
    if (sym === 16) {
      if (i === 0) throw bad('invalid bit length repeat');
      if (bc < 2) throw eof();
      rep = 3 + (bb & 3);
      bb >>>= 2;
      bc -= 2;
    } else if (sym === 17) {
      if (bc < 3) throw eof();
      rep = 3 + (bb & 7);
      bb >>>= 3;
      bc -= 3;
      prev = 0;
    } else {
      if (bc < 7) throw eof();
      rep = 11 + (bb & 127);
      bb >>>= 7;
      bc -= 7;
      prev = 0;
    }
    if (i + rep > total) throw bad('invalid bit length repeat');
    if (prev === 0) {
      i += rep;
    } else {
      // a repeat may cross from the literal/length lengths into the distance ones
      while (rep-- > 0) {
        if (litEnd < 0 && i >= nlen) litEnd = nz;
        nonzero[nz] = i++;
        nonzeroLen[nz++] = prev;
      }
    }
  }
  bitBuf = bb;
  bitCount = bc;
  inPos = ip;
  if (litEnd < 0) litEnd = nz;
  // the end-of-block symbol has a length: it is among the last (at most 30) literal/length positions
  let k = litEnd - 1;
  while (k >= 0 && nonzero[k]! > END_OF_BLOCK) k--;
  if (k < 0 || nonzero[k] !== END_OF_BLOCK) throw bad('invalid code -- missing end-of-block');
  buildCode(litCode, 0, nlen, 0, litEnd, true, false, 'literal/lengths');
  buildCode(distCode, nlen, ndist, litEnd, nz, true, true, 'distances');
  codes(litCode, distCode);
}

function nodeInflate(input: Uint8Array, maxOutput: number): Buffer {
  try {
    return inflateSync(input, { maxOutputLength: maxOutput });
  } catch (err) {
    throw bad(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Inflates the zlib stream at `input[start, end)` (bytes after the end of the stream are ignored).
 *
 * @param input - the bytes.
 * @param start - first byte of the stream.
 * @param end - one past the last byte available.
 * @param maxOutput - most bytes the stream may inflate to.
 * @returns the inflated bytes, in a new Buffer.
 * @throws {@link DecodeError} `ERR_DECODE_COMPRESSION` for an invalid or truncated stream, a wrong
 *   Adler-32, or more than `maxOutput` bytes.
 * @internal
 */
export function inflateZlib(input: Uint8Array, start: number, end: number, maxOutput: number): Buffer {
  if (end - start > SMALL_INFLATE_LIMIT) return nodeInflate(input.subarray(start, end), maxOutput);
  if (end - start < 2) throw bad('unexpected end of file');
  const cmf = input[start]!;
  const flg = input[start + 1]!;
  if ((cmf & 0x0f) !== 8) throw bad('unknown compression method');
  if (cmf >>> 4 > 7) throw bad('invalid window size');
  if (((cmf << 8) | flg) % 31 !== 0) throw bad('incorrect header check');
  if ((flg & 0x20) !== 0) throw bad('need dictionary');
  if (outBuf.length < maxOutput) outBuf = new Uint8Array(maxOutput);
  inBuf = input;
  inPos = start + 2;
  inEnd = end;
  bitBuf = 0;
  bitCount = 0;
  outPos = 0;
  outMax = maxOutput;
  try {
    let last: number;
    do {
      last = bits(1);
      const type = bits(2);
      if (type === 0) stored();
      else if (type === 1) codes(fixedLit, fixedDist);
      else if (type === 2) dynamic();
      else throw bad('invalid block type');
    } while (last === 0);
    // the Adler-32 starts at the next byte boundary; whole bytes still in the bit buffer are given back
    inPos -= bitCount >>> 3;
    bitBuf = 0;
    bitCount = 0;
    if (inPos + 4 > inEnd) throw bad('unexpected end of file');
    const want = ((inBuf[inPos]! << 24) | (inBuf[inPos + 1]! << 16) | (inBuf[inPos + 2]! << 8) | inBuf[inPos + 3]!) >>> 0;
    if (adler32(outBuf, 0, outPos) !== want) throw bad('incorrect data check');
    const result = Buffer.allocUnsafe(outPos);
    result.set(outBuf.subarray(0, outPos));
    return result;
  } finally {
    inBuf = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);
