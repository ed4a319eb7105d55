/**
 * Blowfish-CBC in pure TypeScript (protocol.md 3.1 step 8): OpenSSL 3 no longer offers `bf-cbc`
 * without the legacy provider. Variable key length (Wazuh uses 47 bytes), big-endian blocks as in
 * OpenSSL, no padding. The key schedule is computed once per key and cached.
 *
 * @module
 */
import { DecodeError } from '../errors.js';
import { BLOWFISH_PI_WORDS } from './blowfish-tables.js';

/** Blowfish block size, in bytes. */
export const BLOWFISH_BLOCK_SIZE = 8;

/** The fixed Blowfish IV of secure messages: `FE DC BA 98 76 54 32 10`. */
export const BLOWFISH_IV: Readonly<Buffer> = Buffer.from('fedcba9876543210', 'hex');

const IV_LEFT = 0xfedcba98;
const IV_RIGHT = 0x76543210;

/**
 * A Blowfish key schedule. Encrypts and decrypts in CBC mode, in place or into another buffer,
 * without allocating per block.
 */
export class Blowfish {
  /** P-array (18 words) then S-boxes (4 × 256 words). */
  readonly #state: Uint32Array;
  #l = 0;
  #r = 0;

  /**
   * Runs the key schedule (521 block encryptions).
   *
   * @param key - 1 to 72 bytes (OpenSSL `BF_set_key` uses at most 72).
   * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` when the key is empty.
   */
  constructor(key: Uint8Array) {
    if (key.length === 0) throw new DecodeError('Blowfish key must not be empty', 'ERR_DECODE_DECRYPT');
    const len = Math.min(key.length, 72);
    const s = new Uint32Array(BLOWFISH_PI_WORDS);
    this.#state = s;
    let j = 0;
    for (let i = 0; i < 18; i++) {
      let data = 0;
      for (let k = 0; k < 4; k++) {
        data = (data << 8) | key[j]!;
        if (++j >= len) j = 0;
      }
      s[i] = (s[i]! ^ data) >>> 0;
    }
    this.#l = 0;
    this.#r = 0;
    for (let i = 0; i < 18 + 1024; i += 2) {
      this.#encrypt(this.#l, this.#r);
      s[i] = this.#l;
      s[i + 1] = this.#r;
    }
  }

  /** Encrypts one block given as two big-endian words; the result is left in #l / #r. */
  #encrypt(l0: number, r0: number): void {
    const s = this.#state;
    let l = l0;
    let r = r0;
    for (let i = 0; i < 16; i += 2) {
      l ^= s[i]!;
      r ^= ((((s[18 + (l >>> 24)]! + s[274 + ((l >>> 16) & 0xff)]!) | 0) ^ s[530 + ((l >>> 8) & 0xff)]!) + s[786 + (l & 0xff)]!) | 0;
      r ^= s[i + 1]!;
      l ^= ((((s[18 + (r >>> 24)]! + s[274 + ((r >>> 16) & 0xff)]!) | 0) ^ s[530 + ((r >>> 8) & 0xff)]!) + s[786 + (r & 0xff)]!) | 0;
    }
    this.#l = (r ^ s[17]!) >>> 0;
    this.#r = (l ^ s[16]!) >>> 0;
  }

  /** Decrypts one block; the result is left in #l / #r. */
  #decrypt(l0: number, r0: number): void {
    const s = this.#state;
    let l = l0;
    let r = r0;
    for (let i = 17; i > 1; i -= 2) {
      l ^= s[i]!;
      r ^= ((((s[18 + (l >>> 24)]! + s[274 + ((l >>> 16) & 0xff)]!) | 0) ^ s[530 + ((l >>> 8) & 0xff)]!) + s[786 + (l & 0xff)]!) | 0;
      r ^= s[i - 1]!;
      l ^= ((((s[18 + (r >>> 24)]! + s[274 + ((r >>> 16) & 0xff)]!) | 0) ^ s[530 + ((r >>> 8) & 0xff)]!) + s[786 + (r & 0xff)]!) | 0;
    }
    this.#l = (r ^ s[0]!) >>> 0;
    this.#r = (l ^ s[1]!) >>> 0;
  }

  /**
   * Encrypts one 8-byte block in ECB mode (for known-answer tests).
   *
   * @param block - 8 bytes.
   * @returns a new 8-byte Buffer.
   */
  encryptBlock(block: Uint8Array): Buffer {
    const b = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    this.#encrypt(b.readUInt32BE(0), b.readUInt32BE(4));
    const out = Buffer.allocUnsafe(8);
    out.writeUInt32BE(this.#l, 0);
    out.writeUInt32BE(this.#r, 4);
    return out;
  }

  /**
   * Encrypts `src` in CBC mode into `dst` (which may be `src` itself, for in-place encryption).
   *
   * @param src - plaintext, a multiple of 8 bytes long.
   * @param dst - where to write the ciphertext, at least as long as `src`.
   * @param iv - 8-byte IV. @default {@link BLOWFISH_IV}
   * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` when `src` is not a multiple of 8 bytes or `dst` is too short.
   */
  encryptCbc(src: Buffer, dst: Buffer = src, iv: Uint8Array = BLOWFISH_IV): void {
    checkLengths(src, dst, iv);
    let cl = iv === BLOWFISH_IV ? IV_LEFT : readBE(iv, 0);
    let cr = iv === BLOWFISH_IV ? IV_RIGHT : readBE(iv, 4);
    for (let o = 0; o < src.length; o += 8) {
      this.#encrypt((readBE(src, o) ^ cl) >>> 0, (readBE(src, o + 4) ^ cr) >>> 0);
      cl = this.#l;
      cr = this.#r;
      writeBE(dst, o, cl);
      writeBE(dst, o + 4, cr);
    }
  }

  /**
   * Decrypts `src` in CBC mode into `dst` (which may be `src` itself).
   *
   * @param src - ciphertext, a multiple of 8 bytes long.
   * @param dst - where to write the plaintext, at least as long as `src`.
   * @param iv - 8-byte IV. @default {@link BLOWFISH_IV}
   * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` when `src` is not a multiple of 8 bytes or `dst` is too short.
   */
  decryptCbc(src: Buffer, dst: Buffer = src, iv: Uint8Array = BLOWFISH_IV): void {
    checkLengths(src, dst, iv);
    let cl = iv === BLOWFISH_IV ? IV_LEFT : readBE(iv, 0);
    let cr = iv === BLOWFISH_IV ? IV_RIGHT : readBE(iv, 4);
    for (let o = 0; o < src.length; o += 8) {
      const xl = readBE(src, o);
      const xr = readBE(src, o + 4);
      this.#decrypt(xl, xr);
      writeBE(dst, o, (this.#l ^ cl) >>> 0);
      writeBE(dst, o + 4, (this.#r ^ cr) >>> 0);
      cl = xl;
      cr = xr;
    }
  }
}

function readBE(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function writeBE(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

function checkLengths(src: Uint8Array, dst: Uint8Array, iv: Uint8Array): void {
  if (src.length % BLOWFISH_BLOCK_SIZE !== 0) {
    throw new DecodeError(`Blowfish-CBC input of ${src.length} bytes is not a multiple of 8`, 'ERR_DECODE_DECRYPT');
  }
  if (dst.length < src.length) {
    throw new DecodeError(`Blowfish-CBC output buffer of ${dst.length} bytes is shorter than the ${src.length}-byte input`, 'ERR_DECODE_DECRYPT');
  }
  if (iv.length !== BLOWFISH_BLOCK_SIZE) {
    throw new DecodeError(`Blowfish IV must be 8 bytes, got ${iv.length}`, 'ERR_DECODE_DECRYPT');
  }
}

/** Bounded cache of key schedules (each is 4 KiB and costs 521 block encryptions). */
const SCHEDULE_CACHE_LIMIT = 16384;
const scheduleCache = new Map<string, Blowfish>();

/**
 * Returns the cached key schedule for a key, computing it on first use. The cache holds up to
 * 16384 keys (about 66 MB at most); the oldest entry is dropped first.
 *
 * @param key - the Blowfish key bytes (for secure messages, the 47-byte `DerivedKey.blowfish`).
 * @returns the schedule.
 */
export function blowfishForKey(key: Uint8Array): Blowfish {
  const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
  let bf = scheduleCache.get(id);
  if (bf === undefined) {
    bf = new Blowfish(key);
    if (scheduleCache.size >= SCHEDULE_CACHE_LIMIT) {
      const oldest = scheduleCache.keys().next().value;
      if (oldest !== undefined) scheduleCache.delete(oldest);
    }
    scheduleCache.set(id, bf);
  }
  return bf;
}

/**
 * Blowfish-CBC encryption with the secure-message IV and no padding.
 *
 * @param key - key bytes (1 to 72).
 * @param plaintext - a multiple of 8 bytes.
 * @returns a new Buffer with the ciphertext.
 * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` when the length is not a multiple of 8.
 */
export function blowfishEncrypt(key: Uint8Array, plaintext: Buffer): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length);
  blowfishForKey(key).encryptCbc(plaintext, out);
  return out;
}

/**
 * Blowfish-CBC decryption with the secure-message IV and no padding.
 *
 * @param key - key bytes (1 to 72).
 * @param ciphertext - a multiple of 8 bytes.
 * @returns a new Buffer with the plaintext.
 * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` when the length is not a multiple of 8.
 */
export function blowfishDecrypt(key: Uint8Array, ciphertext: Buffer): Buffer {
  const out = Buffer.allocUnsafe(ciphertext.length);
  blowfishForKey(key).decryptCbc(ciphertext, out);
  return out;
}
