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

/** A canonical Huffman code: lengths histogram, symbols in code order, and a lookup table. */
interface Code {
  /** Codes of each length. */
  count: Uint16Array;
  /** Symbols ordered by code. */
  symbol: Uint16Array;
  /** Indexed by the next `bits` input bits (LSB first): symbol << 4 | length, or 0 for a longer (or invalid) code. */
  table: Uint32Array;
  /** Bits looked up at once: the longest code, at most TABLE_BITS. */
  bits: number;
  /** Whether the code has no symbols at all (a distance code of a literal-only block). */
  empty: boolean;
}

function newCode(symbols: number): Code {
  return { count: new Uint16Array(MAX_BITS + 1), symbol: new Uint16Array(symbols), table: new Uint32Array(1 << TABLE_BITS), bits: 1, empty: false };
}

const litCode = newCode(288);
const distCode = newCode(32);
const clCode = newCode(CODELEN_CODES);
const fixedLit = newCode(288);
const fixedDist = newCode(32);
const offs = new Uint16Array(MAX_BITS + 2);
const lengths = new Uint8Array(LITLEN_CODES + DIST_CODES + 2);
const nextCode = new Uint16Array(MAX_BITS + 2);

function bad(detail: string): DecodeError {
  return new DecodeError(`Invalid zlib stream: ${detail}`, 'ERR_DECODE_COMPRESSION');
}

/**
 * Positions of the nonzero code lengths in `lengths`, ascending: {@link dynamic} records them while
 * it reads the lengths, so that building a code follows the ~60 symbols a short message uses
 * rather than all 286 (+ 30) lengths.
 */
const nonzero = new Uint16Array(LITLEN_CODES + DIST_CODES + 2);

/** Lists the nonzero lengths of `lens[start, start + n)` in {@link nonzero}; returns how many. */
function scanNonzero(lens: Uint8Array, start: number, n: number): number {
  let k = 0;
  for (let s = start; s < start + n; s++) if (lens[s] !== 0) nonzero[k++] = s;
  return k;
}

/**
 * Builds `code` from `lens[start, start + n)`, whose nonzero lengths are at the positions
 * `nonzero[from, to)` (ascending). Throws on an over-subscribed code, and on an incomplete one
 * unless `incompleteOk` and it is a single one-bit code (zlib's rule for literal/length and
 * distance codes); an all-zero code is accepted only when `emptyOk`.
 */
function buildCode(code: Code, lens: Uint8Array, start: number, n: number, from: number, to: number, incompleteOk: boolean, emptyOk: boolean, what: string): void {
  const count = code.count;
  count.fill(0);
  for (let k = from; k < to; k++) count[lens[nonzero[k]!]!]!++;
  code.empty = from === to;
  if (code.empty) {
    if (!emptyOk) throw bad(`empty ${what} code`);
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
  // A complete code that fits the table writes every entry; otherwise the entries no code fills
  // (longer codes' prefixes, the unused half of a single one-bit code) must read 0.
  const bits = maxLen < TABLE_BITS ? maxLen : TABLE_BITS;
  const size = 1 << bits;
  code.bits = bits;
  const table = code.table;
  if (left !== 0 || maxLen > bits) table.fill(0, 0, size);
  let c = 0;
  nextCode[1] = 0;
  for (let l = 2; l <= maxLen; l++) {
    c = (c + count[l - 1]!) << 1;
    nextCode[l] = c;
  }
  for (let k = from; k < to; k++) {
    const p = nonzero[k]!;
    const l = lens[p]!;
    const v = nextCode[l]!++;
    if (l > bits) continue;
    const entry = ((p - start) << 4) | l;
    for (let i = reverseBits(v, l); i < size; i += 1 << l) table[i] = entry;
  }
  if (maxLen > bits) {
    // symbols in code order, for the codes longer than the table (decoded bit by bit)
    offs[1] = 0;
    for (let l = 1; l < MAX_BITS; l++) offs[l + 1] = offs[l]! + count[l]!;
    for (let k = from; k < to; k++) {
      const p = nonzero[k]!;
      code.symbol[offs[lens[p]!]!++] = p - start;
    }
  }
}

buildCode(fixedLit, FIXED_LITLEN_LENGTHS, 0, 288, 0, scanNonzero(FIXED_LITLEN_LENGTHS, 0, 288), false, false, 'fixed');
buildCode(fixedDist, FIXED_DIST_LENGTHS, 0, 32, 0, scanNonzero(FIXED_DIST_LENGTHS, 0, 32), false, false, 'fixed');

// --- bit input --------------------------------------------------------------------------------

let inBuf: Uint8Array = new Uint8Array(0);
let inPos = 0;
let inEnd = 0;
let bitBuf = 0;
let bitCount = 0;

function need(n: number): void {
  while (bitCount < n) {
    if (inPos >= inEnd) throw bad('unexpected end of file');
    bitBuf |= inBuf[inPos++]! << bitCount;
    bitCount += 8;
  }
}

function bits(n: number): number {
  need(n);
  const v = bitBuf & ((1 << n) - 1);
  bitBuf >>>= n;
  bitCount -= n;
  return v;
}

/** Decodes one symbol: table lookup for short codes, bit by bit (canonical order) for longer ones. */
function decode(code: Code): number {
  // top up to 24 bits where the input allows; a code near the end may need fewer than TABLE_BITS
  while (bitCount <= 16 && inPos < inEnd) {
    bitBuf |= inBuf[inPos++]! << bitCount;
    bitCount += 8;
  }
  const entry = code.table[bitBuf & ((1 << code.bits) - 1)]!;
  if (entry !== 0) {
    const l = entry & 15;
    if (l > bitCount) throw bad('unexpected end of file');
    bitBuf >>>= l;
    bitCount -= l;
    return entry >>> 4;
  }
  // longer than TABLE_BITS, or not a code at all
  let c = 0;
  let first = 0;
  let index = 0;
  const count = code.count;
  for (let l = 1; l <= MAX_BITS; l++) {
    if (l > bitCount) throw bad('unexpected end of file');
    c |= (bitBuf >>> (l - 1)) & 1;
    const n = count[l]!;
    if (c - n < first) {
      bitBuf >>>= l;
      bitCount -= l;
      return code.symbol[index + (c - first)]!;
    }
    index += n;
    first = (first + n) << 1;
    c <<= 1;
  }
  throw bad('invalid code');
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
  if (inPos + 4 > inEnd) throw bad('unexpected end of file');
  const len = inBuf[inPos]! | (inBuf[inPos + 1]! << 8);
  const nlen = inBuf[inPos + 2]! | (inBuf[inPos + 3]! << 8);
  inPos += 4;
  if (len !== (~nlen & 0xffff)) throw bad('invalid stored block lengths');
  if (inPos + len > inEnd) throw bad('unexpected end of file');
  if (outPos + len > outMax) throw tooLarge();
  outBuf.set(inBuf.subarray(inPos, inPos + len), outPos);
  outPos += len;
  inPos += len;
}

function codes(lit: Code, dist: Code): void {
  for (;;) {
    const sym = decode(lit);
    if (sym < 256) {
      if (outPos >= outMax) throw tooLarge();
      outBuf[outPos++] = sym;
      continue;
    }
    if (sym === END_OF_BLOCK) return;
    const li = sym - 257;
    if (li >= 29) throw bad('invalid literal/length code');
    const le = LENGTH_EXTRA[li]!;
    const len = LENGTH_BASE[li]! + (le === 0 ? 0 : bits(le));
    if (dist.empty) throw bad('invalid distance code');
    const ds = decode(dist);
    if (ds >= 30) throw bad('invalid distance code');
    const de = DIST_EXTRA[ds]!;
    const d = DIST_BASE[ds]! + (de === 0 ? 0 : bits(de));
    if (d > outPos) throw bad('invalid distance too far back');
    if (outPos + len > outMax) throw tooLarge();
    let from = outPos - d;
    const stop = outPos + len;
    while (outPos < stop) outBuf[outPos++] = outBuf[from++]!;
  }
}

function dynamic(): void {
  const nlen = bits(5) + 257;
  const ndist = bits(5) + 1;
  const ncode = bits(4) + 4;
  if (nlen > LITLEN_CODES || ndist > DIST_CODES) throw bad('too many length or distance symbols');
  lengths.fill(0, 0, CODELEN_CODES);
  for (let i = 0; i < ncode; i++) lengths[CODELEN_ORDER[i]!] = bits(3);
  buildCode(clCode, lengths, 0, CODELEN_CODES, 0, scanNonzero(lengths, 0, CODELEN_CODES), false, false, 'code lengths');
  let i = 0;
  const total = nlen + ndist;
  // positions of the nonzero lengths, and where the distance lengths' begin
  let nz = 0;
  let litEnd = -1;
  while (i < total) {
    if (litEnd < 0 && i >= nlen) litEnd = nz;
    const sym = decode(clCode);
    if (sym < 16) {
      if (sym !== 0) nonzero[nz++] = i;
      lengths[i++] = sym;
      continue;
    }
    let len = 0;
    let rep: number;
    if (sym === 16) {
      if (i === 0) throw bad('invalid bit length repeat');
      len = lengths[i - 1]!;
      rep = 3 + bits(2);
    } else if (sym === 17) {
      rep = 3 + bits(3);
    } else {
      rep = 11 + bits(7);
    }
    if (i + rep > total) throw bad('invalid bit length repeat');
    if (len === 0) {
      lengths.fill(0, i, i + rep);
      i += rep;
    } else {
      // a repeat may cross from the literal/length lengths into the distance ones
      while (rep-- > 0) {
        if (litEnd < 0 && i >= nlen) litEnd = nz;
        nonzero[nz++] = i;
        lengths[i++] = len;
      }
    }
  }
  if (litEnd < 0) litEnd = nz;
  if (lengths[END_OF_BLOCK] === 0) throw bad('invalid code -- missing end-of-block');
  buildCode(litCode, lengths, 0, nlen, 0, litEnd, true, false, 'literal/lengths');
  buildCode(distCode, lengths, nlen, ndist, litEnd, nz, true, true, 'distances');
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
