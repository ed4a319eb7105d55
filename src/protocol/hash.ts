/**
 * MD5 and SHA-1 hex digests for the codec: the one-shot `crypto.hash()` where the running Node.js
 * has it (20.12+, about 1.5× faster on short inputs), `createHash()` otherwise.
 *
 * @internal
 * @module
 */
import * as nodeCrypto from 'node:crypto';

type OneShot = (algorithm: string, data: nodeCrypto.BinaryLike, outputEncoding: 'hex') => string;

const oneShot: OneShot | undefined = typeof nodeCrypto.hash === 'function' ? (nodeCrypto.hash as OneShot) : undefined;

/**
 * Lowercase hex digest of `data`.
 *
 * @param algorithm - `md5` or `sha1`.
 * @param data - bytes, or a string hashed as UTF-8 (callers pass ASCII).
 * @returns the hex digest.
 * @internal
 */
export function hexDigest(algorithm: 'md5' | 'sha1', data: Uint8Array | string): string {
  if (oneShot !== undefined) return oneShot(algorithm, data, 'hex');
  return nodeCrypto.createHash(algorithm).update(data).digest('hex');
}
