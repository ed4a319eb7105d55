/**
 * The parts of the zlib format (RFC 1950) and of deflate (RFC 1951) that the small-message
 * compressor ({@link deflateSmall}) and decompressor ({@link inflateSmall}) share: Adler-32, the
 * length and distance code tables, the order of the code-length codes.
 *
 * @internal
 * @module
 */

/** Largest Adler-32 run before the sums must be reduced (zlib's NMAX). */
const ADLER_NMAX = 5552;
const ADLER_MOD = 65521;

/**
 * Adler-32 of `data[start, end)` (RFC 1950 section 9).
 *
 * @param data - bytes.
 * @param start - first byte.
 * @param end - one past the last byte.
 * @returns the checksum as an unsigned 32-bit number.
 * @internal
 */
export function adler32(data: Uint8Array, start = 0, end = data.length): number {
  let a = 1;
  let b = 0;
  let i = start;
  while (i < end) {
    const stop = Math.min(end, i + ADLER_NMAX);
    // eight bytes a turn: a quarter less time than one, on the ~200 bytes of a secure message
    for (const stop8 = stop - 7; i < stop8; i += 8) {
      a += data[i]!;
      b += a;
      a += data[i + 1]!;
      b += a;
      a += data[i + 2]!;
      b += a;
      a += data[i + 3]!;
      b += a;
      a += data[i + 4]!;
      b += a;
      a += data[i + 5]!;
      b += a;
      a += data[i + 6]!;
      b += a;
      a += data[i + 7]!;
      b += a;
    }
    for (; i < stop; i++) {
      a += data[i]!;
      b += a;
    }
    a %= ADLER_MOD;
    b %= ADLER_MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** Shortest and longest match of deflate. */
export const MIN_MATCH = 3;
/** Longest match of deflate. */
export const MAX_MATCH = 258;
/** Farthest distance a match may reach back. */
export const MAX_DISTANCE = 32768;
/** End-of-block symbol of the literal/length alphabet. */
export const END_OF_BLOCK = 256;
/** Literal/length symbols that may appear in a block (0..285). */
export const LITLEN_CODES = 286;
/** Distance symbols that may appear in a block (0..29). */
export const DIST_CODES = 30;
/** Code-length symbols (0..18). */
export const CODELEN_CODES = 19;
/** Longest literal/length or distance code. */
export const MAX_BITS = 15;
/** Longest code-length code. */
export const MAX_CODELEN_BITS = 7;

/** Base lengths of length symbols 257..285. */
export const LENGTH_BASE = Uint16Array.of(3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258);
/** Extra bits of length symbols 257..285. */
export const LENGTH_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
/** Base distances of distance symbols 0..29. */
export const DIST_BASE = Uint16Array.of(
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
);
/** Extra bits of distance symbols 0..29. */
export const DIST_EXTRA = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
/** Order in which the code-length code lengths are sent. */
export const CODELEN_ORDER = Uint8Array.of(16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15);

/**
 * Code lengths of the fixed Huffman codes (RFC 1951 3.2.6): literal/length then distance.
 *
 * @internal
 */
export const FIXED_LITLEN_LENGTHS: Uint8Array = (() => {
  const l = new Uint8Array(288);
  l.fill(8, 0, 144);
  l.fill(9, 144, 256);
  l.fill(7, 256, 280);
  l.fill(8, 280, 288);
  return l;
})();

/** Code lengths of the fixed distance code (all 5 bits; 30 and 31 never occur). @internal */
export const FIXED_DIST_LENGTHS: Uint8Array = new Uint8Array(32).fill(5);

/** Bytes bit-reversed. */
const REVERSED = Uint8Array.from({ length: 256 }, (_, b) => {
  let r = 0;
  for (let k = 0; k < 8; k++) r |= ((b >> k) & 1) << (7 - k);
  return r;
});

/**
 * The `len` low bits of `c` in reverse order: deflate sends Huffman codes most significant bit
 * first inside a least-significant-bit-first stream.
 *
 * @param c - the code.
 * @param len - its length in bits, at most 16.
 * @returns the reversed code.
 * @internal
 */
export function reverseBits(c: number, len: number): number {
  return ((REVERSED[c & 0xff]! << 8) | REVERSED[(c >>> 8) & 0xff]!) >>> (16 - len);
}
