/**
 * zlib streams (RFC 1950 around RFC 1951 deflate) for secure messages, without a zlib stream
 * object per message.
 *
 * Why this is written here and not left to `node:zlib`: a secure message compresses about 220
 * bytes, and `zlib.deflateSync` builds a stream object (Zlib, ZlibBase, Transform, Duplex) and a
 * native zlib state for every call: that costs more than compressing the bytes (measured: level 0,
 * which compresses nothing, costs half of level 9; issue 12). Inputs up to
 * {@link SMALL_DEFLATE_LIMIT} bytes are compressed here, in one block, with zlib's match search
 * (hash chains, lazy matching, zlib's per-level effort table) and whichever block type is smallest
 * (stored, fixed or dynamic Huffman codes), as zlib chooses; larger inputs go through
 * `zlib.deflateSync`, where the per-call cost no longer matters. Level 0 writes stored blocks
 * (zlib header, stored blocks, Adler-32) and never touches zlib. Every output is a standard zlib
 * stream that any inflater accepts; sizes stay within a few percent of zlib's at the same level
 * (tests check both, fuzzed).
 *
 * Pure: the working tables are module-level scratch, reused across calls and never observable.
 *
 * The Huffman codes are built in huffman.ts; the format constants and the inflater live beside it
 * (zlib-format.ts, inflate.ts). Why this file is still about 700 lines: its other steps (match
 * search, the run-length coded header, block choice, bit output) share the symbol buffer and the
 * bit output and run per message on the hot path; split, they would pass that scratch between
 * modules or export it.
 *
 * @internal
 * @module
 */
import { deflateSync } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';
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
  MAX_CODELEN_BITS,
  MAX_MATCH,
  MIN_MATCH,
  adler32,
} from './zlib-format.js';
import { Alphabet, buildCode, clearCodeScratch, fixedCodes } from './huffman.js';

/** Inputs up to this many bytes are compressed by the TypeScript deflate; larger ones by `node:zlib`. */
export const SMALL_DEFLATE_LIMIT = 16_384;

/** Largest stored block. */
const MAX_STORED = 65_535;

/**
 * Most bytes {@link deflateInto} writes for `length` input bytes at any level: the stored size
 * (header, 5 bytes per stored block, Adler-32), plus room for zlib's own blocks above the limit.
 *
 * @param length - input bytes.
 * @returns an upper bound of the output size.
 * @internal
 */
export function deflateBound(length: number): number {
  return length + 5 * Math.max(1, Math.ceil(length / MAX_STORED)) + (length >> 12) + (length >> 14) + 64;
}

/** zlib's effort per level: good length, lazy limit, nice length, chain length; levels 1–3 match greedily. */
const CONFIG: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 0, 0],
  [4, 4, 8, 4],
  [4, 5, 16, 8],
  [4, 6, 32, 32],
  [4, 4, 16, 16],
  [8, 16, 32, 32],
  [8, 16, 128, 128],
  [8, 32, 128, 256],
  [32, 128, 258, 1024],
  [32, 258, 258, 4096],
];
/** A 3-byte match this far back is not worth it (zlib's TOO_FAR). */
const TOO_FAR = 4096;

// --- scratch ------------------------------------------------------------------------------------

const HASH_BITS = 12;
const HASH_SHIFT = 32 - HASH_BITS;
/** Newest position (plus `base`) of each 3-byte hash. */
const head = new Int32Array(1 << HASH_BITS);
/** Previous position (plus `base`) with the same hash, per position. */
const prev = new Int32Array(SMALL_DEFLATE_LIMIT);
/** Positions are stored as `i + base`; entries below `base` belong to earlier calls. */
let base = 1;

/**
 * The block's symbols, one 32-bit entry each: a literal byte (0..255), or a match with its codes
 * worked out once, when it is found: literal/length symbol (257..285) in bits 0–8, its extra-bits
 * value in bits 9–13, the distance symbol in bits 14–18 and its extra-bits value in bits 19–31.
 * Bit 8 tells them apart (set in every length symbol, clear in every byte).
 */
const syms = new Int32Array(SMALL_DEFLATE_LIMIT);
let symCount = 0;
/** Matches among the block's symbols, and the extra bits of their lengths and distances. */
let matchCount = 0;
let matchExtraBits = 0;

const lit = new Alphabet(LITLEN_CODES);
const dist = new Alphabet(DIST_CODES);
const bl = new Alphabet(CODELEN_CODES);
/** True while a block is being written: still true at the next call when one threw halfway. */
let busy = false;
/** Run-length coded code lengths of the dynamic header: symbol (0..18) and its extra-bits value. */
const rleSym = new Uint8Array(LITLEN_CODES + DIST_CODES);
const rleExtra = new Uint8Array(LITLEN_CODES + DIST_CODES);
let rleCount = 0;

/** Length (3..258) − 3 → length symbol − 257. */
const LENGTH_CODE = new Uint8Array(256);
/** Distance − 1 → distance symbol: entries 0..255 directly, then (distance − 1) >> 7 from 256. */
const DIST_CODE = new Uint8Array(512);
/** Extra bits of each literal/length symbol (0 for literals and end of block). */
const LITLEN_EXTRA = new Uint8Array(LITLEN_CODES);
(() => {
  for (let code = 0; code < 28; code++) {
    for (let k = 0; k < 1 << LENGTH_EXTRA[code]!; k++) LENGTH_CODE[LENGTH_BASE[code]! - 3 + k] = code;
  }
  LENGTH_CODE[255] = 28;
  let d = 0;
  for (let code = 0; code < 16; code++) for (let k = 0; k < 1 << DIST_EXTRA[code]!; k++) DIST_CODE[d++] = code;
  d >>= 7;
  for (let code = 16; code < DIST_CODES; code++) for (let k = 0; k < 1 << (DIST_EXTRA[code]! - 7); k++) DIST_CODE[256 + d++] = code;
  for (let code = 0; code < 29; code++) LITLEN_EXTRA[257 + code] = LENGTH_EXTRA[code]!;
})();
/** Extra bits of the code-length symbols 16, 17 and 18 (repeat counts). */
const CODELEN_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7);

const FIXED_LITLEN_CODES = fixedCodes(FIXED_LITLEN_LENGTHS);
const FIXED_DIST_CODES = fixedCodes(FIXED_DIST_LENGTHS);

/**
 * Run-length codes the first `n` code lengths of an alphabet (after {@link buildCode}) as zlib's
 * scan_tree does (RFC 1951 3.2.7), counting the code-length symbols: runs of zeros as 17 (3–10)
 * or 18 (11–138), single zeros below 3; a run of a nonzero length `v` as a first piece of up to 7
 * (`v` then 16 when 4 or more, else `v` each time), then pieces of up to 6 (16 alone when 3 or
 * more). The runs are found from the symbols in use, so a short message's mostly-zero 286 lengths
 * cost a few steps, not one per length.
 */
function runLengths(al: Alphabet, n: number): void {
  const lens = al.lens;
  const sorted = al.sorted;
  const m = al.usedCount;
  const rs = rleSym;
  const rx = rleExtra;
  const bf = bl.freq;
  let rc = rleCount;
  let pos = 0;
  let k = 0;
  while (pos < n) {
    // zeros up to the next symbol in use
    const next = k < m ? sorted[k]! : n;
    let zeros = next - pos;
    while (zeros > 0) {
      const c = zeros < 138 ? zeros : 138;
      if (c < 3) {
        for (let z = 0; z < c; z++) rs[rc++] = 0;
        bf[0]! += c;
      } else if (c <= 10) {
        rs[rc] = 17;
        rx[rc++] = c - 3;
        bf[17]!++;
      } else {
        rs[rc] = 18;
        rx[rc++] = c - 11;
        bf[18]!++;
      }
      zeros -= c;
    }
    if (next >= n) break;
    // a run of equal nonzero lengths over adjacent symbols in use
    const v = lens[next]!;
    let end = next + 1;
    k++;
    while (k < m && sorted[k] === end && lens[end] === v) {
      end++;
      k++;
    }
    let count = end - next;
    pos = end;
    if (count < 4) {
      for (let z = 0; z < count; z++) rs[rc++] = v;
      bf[v]! += count;
      continue;
    }
    let c = count < 7 ? count : 7;
    rs[rc++] = v;
    rs[rc] = 16;
    rx[rc++] = c - 4;
    bf[v]!++;
    bf[16]!++;
    count -= c;
    while (count > 0) {
      c = count < 6 ? count : 6;
      if (c < 3) {
        for (let z = 0; z < c; z++) rs[rc++] = v;
        bf[v]! += c;
      } else {
        rs[rc] = 16;
        rx[rc++] = c - 3;
        bf[16]!++;
      }
      count -= c;
    }
  }
  rleCount = rc;
}


// --- bit output -----------------------------------------------------------------------------------

let out: Uint8Array = new Uint8Array(0);
let outPos = 0;
let bitBuf = 0;
let bitCount = 0;

function putBits(value: number, bits: number): void {
  bitBuf |= value << bitCount;
  bitCount += bits;
  while (bitCount >= 8) {
    out[outPos++] = bitBuf & 0xff;
    bitBuf >>>= 8;
    bitCount -= 8;
  }
}

function flushBits(): void {
  if (bitCount > 0) out[outPos++] = bitBuf & 0xff;
  bitBuf = 0;
  bitCount = 0;
}

// --- match search ---------------------------------------------------------------------------------

let matchDist = 0;

/**
 * Longest match at `i` among the chain starting at `cand` (an absolute position, valid from
 * `lowest`), longer than `bestLen`; sets `matchDist`. Returns `bestLen` when nothing longer was
 * found. No distance is checked against zlib's farthest (the window less its lookahead, 32 506):
 * inputs here are at most {@link SMALL_DEFLATE_LIMIT} bytes (a test holds it below).
 */
function longestMatch(d: Uint8Array, i: number, end: number, cand: number, lowest: number, chain: number, nice: number, bestLen: number): number {
  const maxLen = Math.min(MAX_MATCH, end - i);
  if (nice > maxLen) nice = maxLen;
  let best = bestLen;
  const p = prev;
  // the bytes every candidate must have: the first three, and the one that would make it longer
  const s0 = d[i];
  const s1 = d[i + 1];
  const s2 = d[i + 2];
  let scanEnd = d[i + best];
  while (cand >= lowest && chain-- > 0) {
    const j = cand - lowest;
    if (d[j + best] === scanEnd && d[j] === s0 && d[j + 1] === s1 && d[j + 2] === s2) {
      let k = 3;
      while (k < maxLen && d[j + k] === d[i + k]) k++;
      if (k > best) {
        best = k;
        matchDist = i - j;
        if (k >= nice) break;
        scanEnd = d[i + k];
      }
    }
    cand = p[j]!;
  }
  return best;
}

/** Hash of the 3 bytes `v` (big-endian, 24 bits) into {@link head}. */
function hash3(v: number): number {
  return Math.imul(v, 0x9e3779b1) >>> HASH_SHIFT;
}

/** Records a match of `len` (3..258) at distance `d` (1..32768), counting its symbols. */
function emitMatch(len: number, d: number): void {
  const lc = LENGTH_CODE[len - 3]!;
  const x = d - 1;
  const dc = x < 256 ? DIST_CODE[x]! : DIST_CODE[256 + (x >> 7)]!;
  syms[symCount++] = 257 + lc + ((len - LENGTH_BASE[lc]!) << 9) + (dc << 14) + ((d - DIST_BASE[dc]!) << 19);
  matchCount++;
  matchExtraBits += LENGTH_EXTRA[lc]! + DIST_EXTRA[dc]!;
  lit.add(257 + lc);
  dist.add(dc);
}

/**
 * Fills the symbol buffer for `d[start, end)` with zlib's search at `level` (1..9), counting the
 * symbols. The 3-byte hash input rolls along: one byte read per position hashed.
 */
function findMatches(d: Uint8Array, start: number, end: number, level: number): void {
  const cfg = CONFIG[level]!;
  const good = cfg[0];
  const lazy = cfg[1];
  const nice = cfg[2];
  const maxChain = cfg[3];
  const n = end - start;
  if (base + n + 1 > 0x3fff_ffff) {
    head.fill(0);
    base = 1;
  }
  const b = base;
  // positions are relative to `start`; prev is indexed the same way
  const rel = start === 0 ? d : d.subarray(start, end);
  const hd = head;
  const pv = prev;
  const sy = syms;
  const litFreq = lit.freq;
  const litMask = lit.mask;
  let sc = symCount;
  // the bytes at i and i + 1 in the low 16 bits, before position i is hashed
  let v = n >= 2 ? (rel[0]! << 8) | rel[1]! : 0;
  if (level <= 3) {
    let i = 0;
    while (i < n) {
      let len = 0;
      if (i + MIN_MATCH <= n) {
        v = ((v << 8) | rel[i + 2]!) & 0xff_ffff;
        const h = hash3(v);
        const cand = hd[h]!;
        pv[i] = cand;
        hd[h] = i + b;
        if (cand >= b) len = longestMatch(rel, i, n, cand, b, maxChain, nice, MIN_MATCH - 1);
      }
      if (len >= MIN_MATCH) {
        symCount = sc;
        emitMatch(len, matchDist);
        sc = symCount;
        if (len <= lazy && i + len + MIN_MATCH <= n) {
          for (let k = i + 1; k < i + len; k++) {
            v = ((v << 8) | rel[k + 2]!) & 0xff_ffff;
            const h = hash3(v);
            pv[k] = hd[h]!;
            hd[h] = k + b;
          }
          i += len;
        } else {
          i += len;
          if (i + 1 < n) v = (rel[i]! << 8) | rel[i + 1]!;
        }
      } else {
        const c = rel[i]!;
        sy[sc++] = c;
        if (litFreq[c]!++ === 0) litMask[c >> 5]! |= 1 << (c & 31);
        i++;
      }
    }
  } else {
    let prevLen = MIN_MATCH - 1;
    let prevDist = 0;
    let available = false;
    let i = 0;
    while (i < n) {
      let cand = -1;
      if (i + MIN_MATCH <= n) {
        v = ((v << 8) | rel[i + 2]!) & 0xff_ffff;
        const h = hash3(v);
        cand = hd[h]!;
        pv[i] = cand;
        hd[h] = i + b;
      }
      if (cand < b && prevLen < MIN_MATCH) {
        // nothing pending, nothing to search: the previous byte is a literal
        if (available) {
          const c = rel[i - 1]!;
          sy[sc++] = c;
          if (litFreq[c]!++ === 0) litMask[c >> 5]! |= 1 << (c & 31);
        }
        available = true;
        i++;
        continue;
      }
      let curLen = MIN_MATCH - 1;
      let curDist = 0;
      if (cand >= b && prevLen < lazy) {
        matchDist = 0;
        const found = longestMatch(rel, i, n, cand, b, prevLen >= good ? maxChain >> 2 : maxChain, nice, prevLen);
        if (found > prevLen) {
          curLen = found;
          curDist = matchDist;
          if (curLen === MIN_MATCH && curDist > TOO_FAR) curLen = MIN_MATCH - 1;
        }
      }
      if (prevLen >= MIN_MATCH && curLen <= prevLen) {
        symCount = sc;
        emitMatch(prevLen, prevDist);
        sc = symCount;
        // positions i-1 and i are hashed; hash the rest of the match
        const stop = i - 1 + prevLen;
        const last = Math.min(stop, n - MIN_MATCH + 1);
        for (let k = i + 1; k < last; k++) {
          v = ((v << 8) | rel[k + 2]!) & 0xff_ffff;
          const h = hash3(v);
          pv[k] = hd[h]!;
          hd[h] = k + b;
        }
        i = stop;
        available = false;
        prevLen = MIN_MATCH - 1;
        continue;
      }
      if (available) {
        const c = rel[i - 1]!;
        sy[sc++] = c;
        if (litFreq[c]!++ === 0) litMask[c >> 5]! |= 1 << (c & 31);
      }
      available = true;
      prevLen = curLen;
      prevDist = curDist;
      i++;
    }
    if (available) {
      const c = rel[n - 1]!;
      sy[sc++] = c;
      if (litFreq[c]!++ === 0) litMask[c >> 5]! |= 1 << (c & 31);
    }
  }
  symCount = sc;
  base = b + n + 1;
}

// --- blocks -------------------------------------------------------------------------------------

function writeStored(d: Uint8Array, start: number, end: number, final: boolean): void {
  let pos = start;
  do {
    const len = Math.min(MAX_STORED, end - pos);
    const last = final && pos + len === end;
    putBits(last ? 1 : 0, 3);
    flushBits();
    out[outPos++] = len & 0xff;
    out[outPos++] = len >>> 8;
    out[outPos++] = ~len & 0xff;
    out[outPos++] = (~len >>> 8) & 0xff;
    out.set(d.subarray(pos, pos + len), outPos);
    outPos += len;
    pos += len;
  } while (pos < end);
}

/** Writes the block's symbols and the end of block with the given codes (as {@link Alphabet.codes} holds them). */
function writeSymbols(lCodes: Int32Array, dCodes: Int32Array): void {
  // The bit buffer lives in locals here: this loop writes every symbol of the block. Fewer than 16
  // bits are pending before each code (15 bits at most) or extra bits (13 at most), so 32 never overflow.
  const o = out;
  const sy = syms;
  let pos = outPos;
  let bb = bitBuf;
  let bc = bitCount;
  const n = symCount;
  for (let k = 0; k < n; k++) {
    const e = sy[k]!;
    if ((e & 256) === 0) {
      const c = lCodes[e]!;
      bb |= (c & 0xffff) << bc;
      bc += c >>> 16;
    } else {
      const s = e & 511;
      const c = lCodes[s]!;
      bb |= (c & 0xffff) << bc;
      bc += c >>> 16;
      if (bc >= 16) {
        o[pos++] = bb & 0xff;
        o[pos++] = (bb >>> 8) & 0xff;
        bb >>>= 16;
        bc -= 16;
      }
      bb |= ((e >>> 9) & 31) << bc;
      bc += LITLEN_EXTRA[s]!;
      if (bc >= 16) {
        o[pos++] = bb & 0xff;
        o[pos++] = (bb >>> 8) & 0xff;
        bb >>>= 16;
        bc -= 16;
      }
      const dc = (e >>> 14) & 31;
      const x = dCodes[dc]!;
      bb |= (x & 0xffff) << bc;
      bc += x >>> 16;
      if (bc >= 16) {
        o[pos++] = bb & 0xff;
        o[pos++] = (bb >>> 8) & 0xff;
        bb >>>= 16;
        bc -= 16;
      }
      bb |= (e >>> 19) << bc;
      bc += DIST_EXTRA[dc]!;
    }
    if (bc >= 16) {
      o[pos++] = bb & 0xff;
      o[pos++] = (bb >>> 8) & 0xff;
      bb >>>= 16;
      bc -= 16;
    }
  }
  outPos = pos;
  bitBuf = bb;
  bitCount = bc;
  const eob = lCodes[END_OF_BLOCK]!;
  putBits(eob & 0xffff, eob >>> 16);
}

/**
 * Bits of the block's literals, lengths and end of block with the fixed code (extra bits not
 * included), before {@link buildCode} clears the counts: 8 per literal, one more for the bytes from
 * 144 (rare in text: found from the set bits), 7 per length symbol up to 279 and the end of block, 8 above.
 */
function fixedLitLenBits(): number {
  const freq = lit.freq;
  const mask = lit.mask;
  let bits = 8 * (symCount - matchCount);
  for (let w = 144 >> 5; w < 256 >> 5; w++) {
    let set = mask[w]!;
    if (w === 144 >> 5) set &= -1 << (144 & 31);
    while (set !== 0) {
      const low = set & -set;
      bits += freq[(w << 5) + 31 - Math.clz32(low)]!;
      set ^= low;
    }
  }
  // symbols 256..287: the end of block and the length symbols
  let set = mask[256 >> 5]!;
  while (set !== 0) {
    const low = set & -set;
    const s = 256 + 31 - Math.clz32(low);
    bits += freq[s]! * (s < 280 ? 7 : 8);
    set ^= low;
  }
  return bits;
}

/** Compresses `d[start, end)` as one final block, choosing stored, fixed or dynamic codes as zlib does. */
function writeBlock(d: Uint8Array, start: number, end: number, level: number): void {
  if (busy) {
    // the previous call threw halfway: its counts are still in the tables
    lit.clear();
    dist.clear();
    bl.clear();
    clearCodeScratch();
    head.fill(0);
    base = 1;
  }
  busy = true;
  symCount = 0;
  matchCount = 0;
  matchExtraBits = 0;
  findMatches(d, start, end, level);
  lit.add(END_OF_BLOCK);
  const fixedBits = 3 + fixedLitLenBits() + 5 * matchCount + matchExtraBits;

  // the dynamic codes, and the data's size with them and with the fixed codes
  let dynamicBits = 3 + buildCode(lit, MAX_BITS) + buildCode(dist, MAX_BITS) + matchExtraBits;
  const hlit = Math.max(257, lit.maxUsed + 1);
  const hdist = Math.max(1, dist.maxUsed + 1);
  rleCount = 0;
  runLengths(lit, hlit);
  runLengths(dist, hdist);
  // runLengths counted the code-length symbols without marking them (19 of them: one mask word);
  // all 19 lengths are sent, so none may be left from an earlier block
  let blUsed = 0;
  for (let s = 0; s < CODELEN_CODES; s++) {
    if (bl.freq[s] !== 0) blUsed |= 1 << s;
    bl.lens[s] = 0;
  }
  bl.mask[0] = blUsed;
  dynamicBits += 2 * bl.freq[16]! + 3 * bl.freq[17]! + 7 * bl.freq[18]! + buildCode(bl, MAX_CODELEN_BITS);
  let hclen = CODELEN_CODES;
  while (hclen > 4 && bl.lens[CODELEN_ORDER[hclen - 1]!] === 0) hclen--;
  dynamicBits += 5 + 5 + 4 + 3 * hclen;
  const fixedBytes = (fixedBits + 7) >> 3;
  const dynamicBytes = (dynamicBits + 7) >> 3;
  const storedBytes = end - start + 4;

  if (storedBytes <= Math.min(dynamicBytes, fixedBytes)) {
    writeStored(d, start, end, true);
  } else if (fixedBytes <= dynamicBytes) {
    putBits(1 | (1 << 1), 3);
    writeSymbols(FIXED_LITLEN_CODES, FIXED_DIST_CODES);
  } else {
    writeHeader(hlit, hdist, hclen);
    writeSymbols(lit.codes, dist.codes);
  }
  flushBits();
  busy = false;
}

/** The dynamic block's header: block type, alphabet sizes, the code-length code, the run-length coded lengths. */
function writeHeader(hlit: number, hdist: number, hclen: number): void {
  // the bit buffer in locals, as in writeSymbols: at most 7 bits pending before each put of at most 14
  const o = out;
  let pos = outPos;
  let bb = bitBuf | ((1 | (2 << 1) | ((hlit - 257) << 3) | ((hdist - 1) << 8) | ((hclen - 4) << 13)) << bitCount);
  let bc = bitCount + 17;
  const blLens = bl.lens;
  const blCodes = bl.codes;
  for (let k = 0; k < hclen; k++) {
    while (bc >= 8) {
      o[pos++] = bb & 0xff;
      bb >>>= 8;
      bc -= 8;
    }
    bb |= blLens[CODELEN_ORDER[k]!]! << bc;
    bc += 3;
  }
  for (let k = 0; k < rleCount; k++) {
    while (bc >= 8) {
      o[pos++] = bb & 0xff;
      bb >>>= 8;
      bc -= 8;
    }
    const s = rleSym[k]!;
    if (s < 16) {
      const c = blCodes[s]!;
      bb |= (c & 0xffff) << bc;
      bc += c >>> 16;
    } else {
      const c = blCodes[s]!;
      bb |= ((c & 0xffff) | (rleExtra[k]! << (c >>> 16))) << bc;
      bc += (c >>> 16) + CODELEN_EXTRA[s]!;
    }
  }
  while (bc >= 8) {
    o[pos++] = bb & 0xff;
    bb >>>= 8;
    bc -= 8;
  }
  outPos = pos;
  bitBuf = bb;
  bitCount = bc;
}

// --- zlib stream ------------------------------------------------------------------------------------

/** zlib's FLEVEL for a level (RFC 1950: 0 fastest … 3 maximum). */
function zlibHeader(level: number): number {
  const flevel = level < 2 ? 0 : level < 6 ? 1 : level === 6 ? 2 : 3;
  const h = (0x78 << 8) | (flevel << 6);
  return h + 31 - (h % 31);
}

/** node:zlib options for a large input, per level: the smallest window that covers the input (far less per-call setup). */
const largeOptions = new Map<number, ZlibOptions>();

function nodeDeflate(input: Uint8Array, level: number): Buffer {
  const windowBits = Math.max(9, Math.min(15, Math.ceil(Math.log2(input.length + 262))));
  const id = level * 16 + windowBits;
  let o = largeOptions.get(id);
  if (o === undefined) {
    o = { level, windowBits };
    largeOptions.set(id, o);
  }
  return deflateSync(input, o);
}

/**
 * Compresses `input[start, end)` into a zlib stream written at `dest[offset]`.
 *
 * @param input - the bytes.
 * @param start - first byte.
 * @param end - one past the last byte.
 * @param level - 0 (stored) to 9; the caller validates it.
 * @param dest - where to write; must hold {@link deflateBound}(end − start) bytes from `offset`.
 * @param offset - first byte written.
 * @returns bytes written.
 * @internal
 */
export function deflateInto(input: Uint8Array, start: number, end: number, level: number, dest: Uint8Array, offset: number): number {
  const n = end - start;
  if (level > 0 && n > SMALL_DEFLATE_LIMIT) {
    const z = nodeDeflate(start === 0 && end === input.length ? input : input.subarray(start, end), level);
    dest.set(z, offset);
    return z.length;
  }
  out = dest;
  outPos = offset;
  const h = zlibHeader(level);
  out[outPos++] = h >>> 8;
  out[outPos++] = h & 0xff;
  if (level === 0) writeStored(input, start, end, true);
  else writeBlock(input, start, end, level);
  const sum = adler32(input, start, end);
  out[outPos++] = sum >>> 24;
  out[outPos++] = (sum >>> 16) & 0xff;
  out[outPos++] = (sum >>> 8) & 0xff;
  out[outPos++] = sum & 0xff;
  const written = outPos - offset;
  out = EMPTY;
  return written;
}

const EMPTY = new Uint8Array(0);

/**
 * Compresses `input` into a new zlib stream.
 *
 * @param input - the bytes.
 * @param level - 0 (stored) to 9; the caller validates it.
 * @returns the zlib stream.
 * @internal
 */
export function deflateZlib(input: Uint8Array, level: number): Buffer {
  const dest = Buffer.allocUnsafe(deflateBound(input.length));
  const n = deflateInto(input, 0, input.length, level, dest, 0);
  return dest.subarray(0, n);
}
