/**
 * AES-256-CBC of secure messages (protocol.md 3.1 step 8), through `node:crypto`: the key is the 32
 * ASCII bytes of `md5hex(raw key)`, the IV the 16 ASCII bytes `FEDCBA0987654321`, PKCS#7 padding.
 *
 * @module
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DecodeError } from '../errors.js';

/** AES block size, in bytes. */
export const AES_BLOCK_SIZE = 16;

/** The fixed AES IV of secure messages: the ASCII bytes `FEDCBA0987654321`. */
export const AES_IV: Readonly<Buffer> = Buffer.from('FEDCBA0987654321', 'latin1');

const ALGORITHM = 'aes-256-cbc';

/**
 * Encrypts with AES-256-CBC and PKCS#7 padding (1 to 16 bytes are always added).
 *
 * @param key - 32 bytes (`DerivedKey.aes`).
 * @param plaintext - any length.
 * @returns a new Buffer with the ciphertext.
 */
export function aesEncrypt(key: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv(ALGORITHM, key, AES_IV);
  const head = cipher.update(plaintext);
  const tail = cipher.final();
  return head.length === 0 ? tail : Buffer.concat([head, tail], head.length + tail.length);
}

/**
 * Encrypts data that the caller has already padded to a multiple of 16 bytes (no padding added).
 * The secure-message encoder uses it to write the PKCS#7 bytes itself and save a copy.
 *
 * @param key - 32 bytes.
 * @param padded - a multiple of 16 bytes.
 * @returns a new Buffer of the same length.
 * @throws {@link DecodeError} `ERR_DECODE_DECRYPT` when the length is not a multiple of 16.
 */
export function aesEncryptNoPadding(key: Uint8Array, padded: Uint8Array): Buffer {
  if (padded.length % AES_BLOCK_SIZE !== 0) {
    throw new DecodeError(`AES input of ${padded.length} bytes is not a multiple of 16`, 'ERR_DECODE_DECRYPT');
  }
  const cipher = createCipheriv(ALGORITHM, key, AES_IV);
  cipher.setAutoPadding(false);
  return cipher.update(padded);
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
  const decipher = createDecipheriv(ALGORITHM, key, AES_IV);
  decipher.setAutoPadding(false);
  const plain = decipher.update(ciphertext);
  const pad = plain[n - 1]!;
  let ok = pad >= 1 && pad <= AES_BLOCK_SIZE;
  for (let i = n - pad; ok && i < n - 1; i++) if (plain[i] !== pad) ok = false;
  if (!ok) {
    throw new DecodeError('AES decryption failed: bad PKCS#7 padding (wrong key or corrupt payload)', 'ERR_DECODE_DECRYPT');
  }
  return plain.subarray(0, n - pad);
}
