/**
 * AES-256-CBC encryption in TypeScript, for the few short messages a key encrypts before an
 * OpenSSL context is worth making for it (protocol.md 3.1 step 8): the key schedule is expanded on
 * each call and nothing is kept, where an OpenSSL context costs about twice the time of the whole
 * call to create and stays allocated with its key. A manager answers each agent's startup and
 * keepalive with an 80-byte ACK: measured, 1.4 µs a call here against 2.8 to 3.6 µs for
 * `createCipheriv` and its first `update`. The output is the same bytes as `node:crypto`'s.
 *
 * @internal
 * @module
 */

/** The AES S-box, and the four encryption T-tables (S-box and MixColumns in one lookup, per byte position). */
const SBOX = new Uint8Array(256);
const TE0 = new Uint32Array(256);
const TE1 = new Uint32Array(256);
const TE2 = new Uint32Array(256);
const TE3 = new Uint32Array(256);

/** Multiplication by x in GF(2^8) modulo the AES polynomial. */
function xtime(b: number): number {
  return ((b << 1) ^ (b & 0x80 ? 0x11b : 0)) & 0xff;
}

(() => {
  // the S-box from the multiplicative inverse (through logarithms of the generator 3) and the affine map
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  for (let i = 0, x = 1; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x ^= xtime(x);
  }
  for (let i = 0; i < 256; i++) {
    const inv = i === 0 ? 0 : exp[(255 - log[i]!) % 255]!;
    const s = inv ^ ((inv << 1) | (inv >>> 7)) ^ ((inv << 2) | (inv >>> 6)) ^ ((inv << 3) | (inv >>> 5)) ^ ((inv << 4) | (inv >>> 4));
    SBOX[i] = (s ^ 0x63) & 0xff;
  }
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const s2 = xtime(s);
    const s3 = s2 ^ s;
    TE0[i] = ((s2 << 24) | (s << 16) | (s << 8) | s3) >>> 0;
    TE1[i] = ((s3 << 24) | (s2 << 16) | (s << 8) | s) >>> 0;
    TE2[i] = ((s << 24) | (s3 << 16) | (s2 << 8) | s) >>> 0;
    TE3[i] = ((s << 24) | (s << 16) | (s3 << 8) | s2) >>> 0;
  }
})();

/** The 15 round keys of AES-256, as 60 big-endian words; scratch of every call. */
const RK = new Uint32Array(60);

function subWord(t: number): number {
  return (SBOX[t >>> 24]! << 24) | (SBOX[(t >>> 16) & 255]! << 16) | (SBOX[(t >>> 8) & 255]! << 8) | SBOX[t & 255]!;
}

/** Expands a 32-byte key, given as a 32-character latin1 string, into {@link RK}. */
function expandKey(key: string): void {
  for (let i = 0; i < 8; i++) {
    RK[i] = ((key.charCodeAt(4 * i) << 24) | (key.charCodeAt(4 * i + 1) << 16) | (key.charCodeAt(4 * i + 2) << 8) | key.charCodeAt(4 * i + 3)) >>> 0;
  }
  let rcon = 1;
  for (let i = 8; i < 60; i++) {
    let t = RK[i - 1]!;
    if (i % 8 === 0) {
      t = subWord((t << 8) | (t >>> 24)) ^ (rcon << 24);
      rcon = xtime(rcon);
    } else if (i % 8 === 4) {
      t = subWord(t);
    }
    RK[i] = (RK[i - 8]! ^ t) >>> 0;
  }
}

function readWord(b: Uint8Array, o: number): number {
  return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!;
}

function writeWord(b: Uint8Array, o: number, w: number): void {
  b[o] = w >>> 24;
  b[o + 1] = w >>> 16;
  b[o + 2] = w >>> 8;
  b[o + 3] = w;
}

/**
 * AES-256-CBC encryption without padding.
 *
 * @param key - the 32 key bytes as a latin1 string.
 * @param iv - the 16-byte IV.
 * @param data - a positive multiple of 16 bytes (not checked here).
 * @returns a new Buffer with the ciphertext.
 * @internal
 */
export function aesCbcEncryptSmall(key: string, iv: Uint8Array, data: Uint8Array): Buffer {
  expandKey(key);
  const out = Buffer.allocUnsafe(data.length);
  let c0 = readWord(iv, 0);
  let c1 = readWord(iv, 4);
  let c2 = readWord(iv, 8);
  let c3 = readWord(iv, 12);
  for (let o = 0; o < data.length; o += 16) {
    let s0 = c0 ^ readWord(data, o) ^ RK[0]!;
    let s1 = c1 ^ readWord(data, o + 4) ^ RK[1]!;
    let s2 = c2 ^ readWord(data, o + 8) ^ RK[2]!;
    let s3 = c3 ^ readWord(data, o + 12) ^ RK[3]!;
    for (let k = 4; k < 56; k += 4) {
      const t0 = TE0[s0 >>> 24]! ^ TE1[(s1 >>> 16) & 255]! ^ TE2[(s2 >>> 8) & 255]! ^ TE3[s3 & 255]! ^ RK[k]!;
      const t1 = TE0[s1 >>> 24]! ^ TE1[(s2 >>> 16) & 255]! ^ TE2[(s3 >>> 8) & 255]! ^ TE3[s0 & 255]! ^ RK[k + 1]!;
      const t2 = TE0[s2 >>> 24]! ^ TE1[(s3 >>> 16) & 255]! ^ TE2[(s0 >>> 8) & 255]! ^ TE3[s1 & 255]! ^ RK[k + 2]!;
      const t3 = TE0[s3 >>> 24]! ^ TE1[(s0 >>> 16) & 255]! ^ TE2[(s1 >>> 8) & 255]! ^ TE3[s2 & 255]! ^ RK[k + 3]!;
      s0 = t0;
      s1 = t1;
      s2 = t2;
      s3 = t3;
    }
    // the last round: no MixColumns
    c0 = ((SBOX[s0 >>> 24]! << 24) | (SBOX[(s1 >>> 16) & 255]! << 16) | (SBOX[(s2 >>> 8) & 255]! << 8) | SBOX[s3 & 255]!) ^ RK[56]!;
    c1 = ((SBOX[s1 >>> 24]! << 24) | (SBOX[(s2 >>> 16) & 255]! << 16) | (SBOX[(s3 >>> 8) & 255]! << 8) | SBOX[s0 & 255]!) ^ RK[57]!;
    c2 = ((SBOX[s2 >>> 24]! << 24) | (SBOX[(s3 >>> 16) & 255]! << 16) | (SBOX[(s0 >>> 8) & 255]! << 8) | SBOX[s1 & 255]!) ^ RK[58]!;
    c3 = ((SBOX[s3 >>> 24]! << 24) | (SBOX[(s0 >>> 16) & 255]! << 16) | (SBOX[(s1 >>> 8) & 255]! << 8) | SBOX[s2 & 255]!) ^ RK[59]!;
    writeWord(out, o, c0);
    writeWord(out, o + 4, c1);
    writeWord(out, o + 8, c2);
    writeWord(out, o + 12, c3);
  }
  return out;
}
