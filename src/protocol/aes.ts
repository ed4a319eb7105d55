/**
 * AES-256-CBC of secure messages (protocol.md 3.1 step 8), through `node:crypto`: the key is the 32
 * ASCII bytes of `md5hex(raw key)`, the IV the 16 ASCII bytes `FEDCBA0987654321`, PKCS#7 padding.
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Cipher, Decipher } from 'node:crypto';
import { DecodeError } from '../errors.js';

/** AES block size, in bytes. */
export const AES_BLOCK_SIZE = 16;

/** The fixed AES IV of secure messages: the ASCII bytes `FEDCBA0987654321`. */
export const AES_IV: Readonly<Buffer> = Buffer.from('FEDCBA0987654321', 'latin1');

const ALGORITHM = 'aes-256-cbc';

/**
 * AES-256-CBC with the fixed IV over one long-lived OpenSSL context per key and direction, instead of
 * a cipher object per message (creating one costs three times the encryption of a 200-byte
 * message). Every secure message starts a new CBC chain from the fixed IV; a context that keeps
 * running continues the chain from the previous message's last ciphertext block `C`, so the first
 * block is adjusted by `IV ⊕ C`: on encryption the first plaintext block is XORed with it before the
 * context sees it, on decryption the first output block after. The result is exactly
 * `AES-CBC(key, IV, data)`.
 */
class AesContext {
  /** The key's bytes as a latin1 string: a copy to compare with (a string: one small object, no Buffer). */
  readonly #key: string;
  #cipher: Cipher | undefined;
  #decipher: Decipher | undefined;
  /**
   * Last ciphertext block the encryption context produced (bytes 0-15), and the last one the
   * decryption context consumed (16-31); the IV before the first message. A 32-byte array in V8's
   * heap, only ever read and written from JavaScript (native code would move its bytes out): a slice
   * of the Buffer pool would keep the pool's whole 8 KB slab alive as long as the context lives.
   */
  readonly #chains = new Uint8Array(2 * AES_BLOCK_SIZE);
  /** Used since the last sweep of idle contexts (or created since). */
  used = true;

  constructor(key: Uint8Array) {
    this.#key = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    for (let i = 0; i < AES_BLOCK_SIZE; i++) this.#chains[i] = this.#chains[AES_BLOCK_SIZE + i] = AES_IV[i]!;
  }

  /** Whether this context was made for `key` (a caller may reuse a key buffer with new bytes). */
  matches(key: Uint8Array): boolean {
    // a loop over the 32 bytes: cheaper than Buffer.equals() (a native call) once per message
    const own = this.#key;
    if (own.length !== key.length) return false;
    for (let i = 0; i < own.length; i++) if (own.charCodeAt(i) !== key[i]) return false;
    return true;
  }

  /** Encrypts `data` (a positive multiple of 16 bytes; its first block is restored afterwards). */
  encrypt(data: Uint8Array): Buffer {
    let cipher = this.#cipher;
    if (cipher === undefined) {
      cipher = createCipheriv(ALGORITHM, Buffer.from(this.#key, 'latin1'), AES_IV);
      cipher.setAutoPadding(false);
      this.#cipher = cipher;
    }
    const chain = this.#chains;
    for (let i = 0; i < AES_BLOCK_SIZE; i++) data[i]! ^= chain[i]! ^ AES_IV[i]!;
    let out: Buffer;
    try {
      out = cipher.update(data);
    } finally {
      for (let i = 0; i < AES_BLOCK_SIZE; i++) data[i]! ^= chain[i]! ^ AES_IV[i]!;
    }
    for (let i = 0, j = out.length - AES_BLOCK_SIZE; i < AES_BLOCK_SIZE; i++) chain[i] = out[j + i]!;
    return out;
  }

  /**
   * Frees the OpenSSL state now (about 1.2 KB for both directions) instead of when a garbage
   * collection reaches the cipher objects: an evicted context has usually lived long enough to be in
   * V8's old space, collected late, and the native memory of the contexts evicted meanwhile adds up
   * (10 000 idle agents evict one context pair per keepalive each).
   */
  release(): void {
    // final() frees the native context; with padding off and whole blocks in it returns no bytes and
    // cannot fail, and a context being dropped has nothing left to report either way
    try {
      this.#cipher?.final();
      this.#decipher?.final();
    } catch {
      // nothing pending: the data was whole blocks
    }
    this.#cipher = undefined;
    this.#decipher = undefined;
  }

  /**
   * Decrypts several messages, each a positive multiple of 16 bytes, with one call into OpenSSL: they
   * are copied one after the other and decrypted as one CBC chain, then each message's first block
   * is adjusted as {@link AesContext.decrypt} adjusts a single message's. No padding removed.
   *
   * @returns the plaintexts, views into one new buffer, in order.
   */
  decryptMany(cts: readonly Uint8Array[]): Buffer[] {
    let total = 0;
    for (const ct of cts) total += ct.length;
    if (manyScratch.length < total) manyScratch = Buffer.allocUnsafe(Math.max(total, 2 * manyScratch.length));
    const joined = manyScratch;
    let off = 0;
    for (const ct of cts) {
      joined.set(ct, off);
      off += ct.length;
    }
    const first = this.decrypt(joined.subarray(0, total));
    const plains: Buffer[] = [];
    off = 0;
    for (let k = 0; k < cts.length; k++) {
      const n = cts[k]!.length;
      if (k > 0) {
        // the chain ran on from the previous message's last block: give this one the IV instead
        const prev = cts[k - 1]!;
        for (let i = 0, j = prev.length - AES_BLOCK_SIZE; i < AES_BLOCK_SIZE; i++) first[off + i]! ^= prev[j + i]! ^ AES_IV[i]!;
      }
      plains.push(first.subarray(off, off + n));
      off += n;
    }
    return plains;
  }

  /** Decrypts `data` (a positive multiple of 16 bytes), no padding removed. */
  decrypt(data: Uint8Array): Buffer {
    let decipher = this.#decipher;
    if (decipher === undefined) {
      decipher = createDecipheriv(ALGORITHM, Buffer.from(this.#key, 'latin1'), AES_IV);
      decipher.setAutoPadding(false);
      this.#decipher = decipher;
    }
    const out = decipher.update(data);
    const chain = this.#chains;
    for (let i = 0; i < AES_BLOCK_SIZE; i++) out[i]! ^= chain[AES_BLOCK_SIZE + i]! ^ AES_IV[i]!;
    // the last ciphertext block, byte by byte: no view per message
    for (let i = 0, j = data.length - AES_BLOCK_SIZE; i < AES_BLOCK_SIZE; i++) chain[AES_BLOCK_SIZE + i] = data[j + i]!;
    return out;
  }
}

/**
 * Most keys with live contexts. Each holds two OpenSSL contexts (about 2.5 KB of RSS with their
 * objects, 1.2 KB of it OpenSSL's, freed at release): keys that send or receive often keep theirs,
 * and a key beyond the most recent ones gets new contexts on its next message, a few microseconds
 * once.
 */
const MAX_CONTEXTS = 4096;
/**
 * Contexts not used for this long (one to two periods: sweeps run on a miss, at most one a period)
 * are released. An idle agent uses its key for a keepalive and its ACK every `notify_time` (10 s by
 * default), so 10 000 of them kept 4 096 context pairs alive (about 10 MB) that none of them used
 * again before they were evicted; a key in use keeps its context. One second: an agent sending an
 * event a second keeps its context (at 250 ms, 2 000 agents at one event a second each cost 20 % more
 * CPU per event: a new context per event), and RSS per idle agent measured the same at 250 and
 * 1 000 ms (10 000 agents).
 */
const IDLE_MS = 1000;
/** Where {@link AesContext.decryptMany} lays the messages end to end (grown as needed, never shrunk). */
let manyScratch = Buffer.allocUnsafe(0);
/** Contexts by key buffer (`DerivedKey.aes` is one shared Buffer per key), oldest first. */
const contexts = new Map<Uint8Array, AesContext>();
/** `Date.now()` of the last sweep. */
let sweptAt = 0;

/** Releases the contexts not used since the previous sweep; the others start a new period. */
function sweep(now: number): void {
  sweptAt = now;
  for (const [key, ctx] of contexts) {
    if (ctx.used) ctx.used = false;
    else {
      ctx.release();
      contexts.delete(key);
    }
  }
}

function contextFor(key: Uint8Array): AesContext {
  const found = contexts.get(key);
  if (found !== undefined && found.matches(key)) {
    found.used = true;
    return found;
  }
  // a miss: a few microseconds of OpenSSL set-up, so the clock read and the sweep cost little here
  const now = Date.now();
  if (now - sweptAt >= IDLE_MS || now < sweptAt) sweep(now);
  const ctx = new AesContext(key);
  const stale = contexts.get(key);
  if (stale !== undefined) stale.release();
  else if (contexts.size >= MAX_CONTEXTS) {
    const oldest = contexts.keys().next().value!;
    contexts.get(oldest)!.release();
    contexts.delete(oldest);
  }
  contexts.set(key, ctx);
  return ctx;
}

/**
 * Encrypts with AES-256-CBC and PKCS#7 padding (1 to 16 bytes are always added).
 *
 * @param key - 32 bytes (`DerivedKey.aes`).
 * @param plaintext - any length.
 * @returns a new Buffer with the ciphertext.
 */
export function aesEncrypt(key: Uint8Array, plaintext: Uint8Array): Buffer {
  const pad = AES_BLOCK_SIZE - (plaintext.length % AES_BLOCK_SIZE);
  const padded = Buffer.allocUnsafe(plaintext.length + pad);
  padded.set(plaintext);
  padded.fill(pad, plaintext.length);
  return contextFor(key).encrypt(padded);
}

/**
 * Encrypts data that the caller has already padded to a multiple of 16 bytes (no padding added).
 * The secure-message encoder uses it to write the PKCS#7 bytes itself and save a copy.
 *
 * @param key - 32 bytes.
 * @param padded - a positive multiple of 16 bytes; left as it was.
 * @returns a new Buffer of the same length.
 * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` when the length is not a positive multiple of 16.
 */
export function aesEncryptNoPadding(key: Uint8Array, padded: Uint8Array): Buffer {
  if (padded.length === 0 || padded.length % AES_BLOCK_SIZE !== 0) {
    throw new DecodeError(`AES input of ${padded.length} bytes is not a positive multiple of 16`, 'ERR_DECODE_DECRYPT');
  }
  return contextFor(key).encrypt(padded);
}

/**
 * Decrypts AES-256-CBC and removes the PKCS#7 padding.
 *
 * @param key - 32 bytes.
 * @param ciphertext - a positive multiple of 16 bytes.
 * @returns the plaintext (a view into a new Buffer).
 * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` on a bad length or bad padding (wrong key or corrupt data).
 */
export function aesDecrypt(key: Uint8Array, ciphertext: Uint8Array): Buffer {
  const n = ciphertext.length;
  if (n === 0 || n % AES_BLOCK_SIZE !== 0) {
    throw new DecodeError(`AES ciphertext of ${n} bytes is not a positive multiple of 16`, 'ERR_DECODE_DECRYPT');
  }
  return aesUnpad(contextFor(key).decrypt(ciphertext));
}

/**
 * Decrypts several AES-256-CBC messages of one key with one call into OpenSSL (a server decrypting
 * the frames of one socket read): each comes out as {@link aesDecrypt} would decrypt it on its own,
 * padding kept; {@link aesUnpad} checks and removes it.
 *
 * @param key - 32 bytes.
 * @param ciphertexts - each a positive multiple of 16 bytes (the caller checks).
 * @returns the padded plaintexts in order, views into one new buffer.
 * @internal
 */
export function aesDecryptMany(key: Uint8Array, ciphertexts: readonly Uint8Array[]): Buffer[] {
  return contextFor(key).decryptMany(ciphertexts);
}

/**
 * Checks and removes the PKCS#7 padding of a decrypted message.
 *
 * @param plain - the decrypted bytes, a positive multiple of 16.
 * @returns the plaintext, a view of `plain`.
 * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` on bad padding (wrong key or corrupt data).
 * @internal
 */
export function aesUnpad(plain: Buffer): Buffer {
  const n = plain.length;
  const pad = plain[n - 1]!;
  let ok = pad >= 1 && pad <= AES_BLOCK_SIZE;
  for (let i = n - pad; ok && i < n - 1; i++) if (plain[i] !== pad) ok = false;
  if (!ok) {
    throw new DecodeError('AES decryption failed: bad PKCS#7 padding (wrong key or corrupt payload)', 'ERR_DECODE_DECRYPT');
  }
  return plain.subarray(0, n - pad);
}
