/**
 * Huffman codes of the small-message deflate (deflate.ts): an alphabet's symbol counts, and the
 * optimal length-limited prefix code built from them (code lengths and canonical codes, as zlib
 * builds them), plus the fixed codes of RFC 1951. The working arrays are module-level scratch,
 * reused across calls and never observable.
 *
 * @internal
 * @module
 */
import { LITLEN_CODES, MAX_BITS, reverseBits } from './zlib-format.js';

/**
 * One alphabet of a block: symbol frequencies, code lengths and codes, and the set of symbols in
 * use (a bit per symbol), so that per-block work follows the symbols a short message uses rather
 * than the whole alphabet (286 literal/length symbols for a 200-byte message). Lengths and codes
 * are only meaningful for the symbols in use: those of earlier blocks are left behind, unread.
 */
export class Alphabet {
  readonly freq: Int32Array;
  readonly lens: Uint8Array;
  /** Code (bit-reversed) in the low 16 bits, its length above: one load per symbol written. */
  readonly codes: Int32Array;
  /** One bit per symbol counted since the last {@link buildCode}, which clears it (and the counts). */
  readonly mask: Int32Array;
  /** The symbols in use in ascending order (`usedCount` of them), as {@link buildCode} left them. */
  readonly sorted: Uint16Array;
  usedCount = 0;
  /** Highest symbol in use, or −1. */
  maxUsed = -1;

  constructor(readonly size: number) {
    this.freq = new Int32Array(size);
    this.lens = new Uint8Array(size);
    this.codes = new Int32Array(size);
    this.mask = new Int32Array((size + 31) >> 5);
    this.sorted = new Uint16Array(size);
  }

  /** Counts one occurrence of `s`. */
  add(s: number): void {
    this.freq[s]!++;
    this.mask[s >> 5]! |= 1 << (s & 31);
  }

  /** Clears everything (after a call that did not finish). */
  clear(): void {
    this.freq.fill(0);
    this.lens.fill(0);
    this.mask.fill(0);
    this.usedCount = 0;
    this.maxUsed = -1;
  }
}

/** Symbols in ascending weight, then their weights (then the code lengths in that order). */
const rankSym = new Uint16Array(LITLEN_CODES);
const depth = new Int32Array(LITLEN_CODES);
/** Weights below this are sorted by counting. */
const COUNT_SORT_LIMIT = 256;
/** Counting-sort buckets; all zero between calls, as {@link lengthCount} is. */
const bucketStart = new Int32Array(COUNT_SORT_LIMIT + 2);
const sortKeys = new Int32Array(LITLEN_CODES);
const lengthCount = new Int32Array(MAX_BITS + 2);
const nextCode = new Uint16Array(MAX_BITS + 2);

/**
 * Builds the alphabet's code from the symbols counted since the last call, and clears the counts:
 * code lengths and canonical codes (bit-reversed for LSB-first output) of an optimal prefix code,
 * no longer than `maxBits` (unused symbols keep stale lengths, never read). As zlib does, at least
 * two symbols get a code, so every code is complete and any inflater accepts it.
 * Minimum-redundancy lengths are computed in place over the symbols sorted by frequency (Moffat
 * and Katajainen), then, when a length exceeds `maxBits`, the length histogram is rebalanced
 * (longest codes shortened, Kraft sum restored) and reassigned in frequency order; the same
 * histogram gives the first code of each length. Returns the bits of the symbols' codes (extra
 * bits not included).
 */
export function buildCode(al: Alphabet, maxBits: number): number {
  const freq = al.freq;
  const mask = al.mask;
  const sorted = al.sorted;
  const start = bucketStart;
  // the symbols in use in symbol order, counted by weight for the sort (weight 1, the most common
  // in a short message, in a local: no chain of increments through memory)
  let m = 0;
  let maxWeight = 1;
  let ones = 0;
  for (let w = 0; w < mask.length; w++) {
    let bits = mask[w]!;
    if (bits === 0) continue;
    mask[w] = 0;
    do {
      const low = bits & -bits;
      const s = (w << 5) + 31 - Math.clz32(low);
      bits ^= low;
      sorted[m++] = s;
      const f = freq[s]!;
      if (f === 1) ones++;
      else if (f < COUNT_SORT_LIMIT) start[f + 1]!++;
      if (f > maxWeight) maxWeight = f;
    } while (bits !== 0);
  }
  start[2] = ones;
  const lens = al.lens;
  const codes = al.codes;
  if (m < 2) {
    // zlib's rule for fewer than two symbols: give symbol maxUsed+1 (when below 2) or 0 a code too;
    // two symbols get one bit each, the lower one 0
    for (let w = 0; w <= COUNT_SORT_LIMIT + 1; w++) start[w] = 0;
    let bits = 0;
    if (m === 0) {
      sorted[0] = 0;
      sorted[1] = 1;
    } else {
      const s = sorted[0]!;
      bits = freq[s]!;
      freq[s] = 0;
      if (s < 2) {
        sorted[1] = s + 1;
      } else {
        sorted[1] = s;
        sorted[0] = 0;
      }
    }
    lens[sorted[0]!] = 1;
    lens[sorted[1]!] = 1;
    codes[sorted[0]!] = 0 | (1 << 16);
    codes[sorted[1]!] = 1 | (1 << 16);
    al.usedCount = 2;
    al.maxUsed = sorted[1]!;
    return bits;
  }
  al.usedCount = m;
  al.maxUsed = sorted[m - 1]!;
  // symbols in ascending weight, equal weights in symbol order (runs of equal lengths make the
  // code-length header shorter): a counting sort for the small weights of short messages, a
  // comparison sort otherwise
  const rank = rankSym;
  const a = depth;
  if (maxWeight < COUNT_SORT_LIMIT) {
    for (let w = 2; w <= maxWeight; w++) start[w + 1]! += start[w]!;
    let one = 0;
    for (let k = 0; k < m; k++) {
      const s = sorted[k]!;
      const w = freq[s]!;
      if (w === 1) {
        rank[one] = s;
        a[one++] = 1;
      } else {
        const r = start[w]!++;
        rank[r] = s;
        a[r] = w;
      }
    }
    for (let w = 0; w <= maxWeight + 1; w++) start[w] = 0;
  } else {
    for (let w = 0; w <= COUNT_SORT_LIMIT + 1; w++) start[w] = 0;
    const keys = sortKeys;
    for (let k = 0; k < m; k++) {
      const s = sorted[k]!;
      keys[k] = (freq[s]! << 9) | s;
    }
    sortAscending(keys, m);
    for (let k = 0; k < m; k++) {
      rank[k] = keys[k]! & 511;
      a[k] = keys[k]! >>> 9;
    }
  }
  // in-place minimum-redundancy code lengths over ascending weights
  a[0] = a[0]! + a[1]!;
  let root = 0;
  let leaf = 2;
  for (let next = 1; next < m - 1; next++) {
    if (leaf >= m || a[root]! < a[leaf]!) {
      a[next] = a[root]!;
      a[root++] = next;
    } else {
      a[next] = a[leaf++]!;
    }
    if (leaf >= m || (root < next && a[root]! < a[leaf]!)) {
      a[next] = a[next]! + a[root]!;
      a[root++] = next;
    } else {
      a[next] = a[next]! + a[leaf++]!;
    }
  }
  a[m - 2] = 0;
  for (let next = m - 3; next >= 0; next--) a[next] = a[a[next]!]! + 1;
  // count the lengths (leaves per depth, from the internal node depths; count is all zero here),
  // then enforce maxBits on the histogram
  const count = lengthCount;
  let avail = 1;
  let used = 0;
  let d = 0;
  root = m - 2;
  let over = false;
  while (avail > 0) {
    while (root >= 0 && a[root] === d) {
      used++;
      root--;
    }
    if (avail > used) {
      if (d > maxBits) {
        over = true;
        count[maxBits]! += avail - used;
      } else {
        count[d]! += avail - used;
      }
    }
    avail = 2 * used;
    d++;
    used = 0;
  }
  // the longest length: the loop ran one depth past it
  const maxLen = over ? maxBits : d - 1;
  if (over) {
    let total = 0;
    for (let l = maxBits; l > 0; l--) total += count[l]! << (maxBits - l);
    while (total !== 1 << maxBits) {
      count[maxBits]!--;
      for (let l = maxBits - 1; l > 0; l--) {
        if (count[l] !== 0) {
          count[l]!--;
          count[l + 1]! += 2;
          break;
        }
      }
      total--;
    }
  }
  // lengths in weight order (the longest to the lightest), first codes per length
  let i = 0;
  for (let l = maxLen; l > 0; l--) {
    for (let k = count[l]!; k > 0; k--) lens[rank[i++]!] = l;
  }
  let code = 0;
  for (let l = 1; l <= maxLen; l++) {
    code = (code + count[l - 1]!) << 1;
    nextCode[l] = code;
    count[l - 1] = 0;
  }
  count[maxLen] = 0;
  // canonical order is symbol order within each length; the size with these codes; counts cleared
  let bits = 0;
  for (let k = 0; k < m; k++) {
    const s = sorted[k]!;
    const l = lens[s]!;
    codes[s] = reverseBits(nextCode[l]!++, l) | (l << 16);
    bits += freq[s]! * l;
    freq[s] = 0;
  }
  return bits;
}

/** Sorts `a[0, n)` ascending (Shell sort: the arrays are short, and a typed array's sort() costs more here). */
function sortAscending(a: Int32Array, n: number): void {
  for (const gap of SHELL_GAPS) {
    if (gap >= n) continue;
    for (let i = gap; i < n; i++) {
      const v = a[i]!;
      let j = i;
      while (j >= gap && a[j - gap]! > v) {
        a[j] = a[j - gap]!;
        j -= gap;
      }
      a[j] = v;
    }
  }
}

const SHELL_GAPS = [132, 57, 23, 10, 4, 1] as const;

/** The fixed code of each symbol as {@link Alphabet.codes} holds it (code, then length from bit 16). */
export function fixedCodes(lens: Uint8Array): Int32Array {
  const count = new Uint16Array(MAX_BITS + 1);
  for (const l of lens) count[l]!++;
  const next = new Uint16Array(MAX_BITS + 2);
  let code = 0;
  for (let l = 2; l <= MAX_BITS; l++) {
    code = (code + count[l - 1]!) << 1;
    next[l] = code;
  }
  return Int32Array.from(lens, (l) => reverseBits(next[l]!++, l) | (l << 16));
}

/** Zeroes the scratch {@link buildCode} keeps zero between calls (after a call that threw halfway). */
export function clearCodeScratch(): void {
  bucketStart.fill(0);
  lengthCount.fill(0);
}
