/**
 * The secure message (protocol.md 3): counters, checksum, zlib, `!` padding, cipher and clear-text
 * header. Pure functions: keys and counters come in as arguments.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { ConfigError, DecodeError, EncodeError } from '../errors.js';
import type { DecodeErrorCode } from '../errors.js';
import { AES_BLOCK_SIZE, aesDecrypt, aesEncryptNoPadding, aesUnpad } from './aes.js';
import { Blowfish, BLOWFISH_BLOCK_SIZE } from './blowfish.js';
import { deflateBound, deflateInto } from './deflate.js';
import { FRAME_HEADER_SIZE, MAX_FRAME_SIZE } from './framing.js';
import { inflateZlib } from './inflate.js';
import { hexDigest } from './hash.js';
import { PING } from './messages.js';
import { deriveEncryptionKey, isSingleHost, isValidAgentId, keyIpAllows, normalizeSourceIp } from './keys.js';
import type { DerivedKey } from './keys.js';
import type { AgentKey, CryptoMethod, MessageCounter, Sender } from './types.js';

/** Largest plaintext message, in bytes (`OS_MAXSTR − OS_HEADER_SIZE`). */
export const MAX_MESSAGE_SIZE = 65408;
/** Largest compressed block, in bytes. */
export const MAX_COMPRESSED_SIZE = 65524;
/** Largest decompressed block a receiver accepts, in bytes (`OS_MAXSTR`). */
export const MAX_DECOMPRESSED_SIZE = 65536;
/** Bytes before the message inside the decompressed block: md5 (32) + random (5) + global (10) + `:` + local (4) + `:`. */
export const MESSAGE_OVERHEAD = 53;
/** Highest local counter value; the next message moves to `global + 1`, local 1. */
export const MAX_LOCAL_COUNTER = 9997;
/** zlib level of each secure message unless told otherwise: Wazuh's. */
export const DEFAULT_COMPRESSION_LEVEL = 9;

const BANG = 0x21; // '!'
const COLON = 0x3a; // ':'
const HASH = 0x23; // '#'
const MD5_HEX_LEN = 32;
const BLOCK_HEADER_LEN = 21;
/** Offset just past the longest id (8 digits) of an `!id!` header. */
const MAX_HEADER_SCAN = 1 + 8;

/**
 * Returns the counter that follows `c` (protocol.md 3.1 step 1): when `local` has reached 9997 it
 * restarts at 1 and `global` goes up by one (wrapping at 2^32).
 *
 * @param c - the last counter used (`{ global: 0, local: 0 }` before the first message).
 * @returns the counter to write into the next message.
 */
export function nextCounter(c: MessageCounter): MessageCounter {
  let global = c.global;
  let local = c.local;
  if (local >= MAX_LOCAL_COUNTER) {
    local = 0;
    global = (global + 1) % 0x1_0000_0000;
  }
  return { global, local: local + 1 };
}

/**
 * Formats a counter as it appears in the block: `%010u:%04u`.
 *
 * @param c - the counter.
 * @returns for example `0000000000:0001`.
 */
export function formatCounter(c: MessageCounter): string {
  return `${pad(c.global, 10)}:${pad(c.local, 4)}`;
}

/**
 * Result of a counter check (protocol.md 3.5): `duplicate` is the manager's `(1407)` (same global,
 * local not greater), `backwards` its `(1404)` (smaller global).
 */
export type CounterCheck = 'ok' | 'duplicate' | 'backwards';

/**
 * Checks a received counter against the last accepted one, as remoted does with
 * `verify_msg_id=1` (protocol.md 3.5).
 *
 * @param saved - the last accepted counter from this peer, or `undefined` for none.
 * @param got - the counter of the message just decoded.
 * @returns `ok` when `got` is newer, `duplicate` or `backwards` otherwise.
 */
export function checkCounter(saved: MessageCounter | undefined, got: MessageCounter): CounterCheck {
  if (saved === undefined) return 'ok';
  if (got.global > saved.global) return 'ok';
  if (got.global < saved.global) return 'backwards';
  return got.local > saved.local ? 'ok' : 'duplicate';
}

/** Options of {@link encodeSecureMessage}. */
export interface EncodeSecureMessageOptions {
  /** The key used: the agent's own, or (manager side) the recipient agent's. */
  key: AgentKey;
  /** Cipher to use. */
  method: CryptoMethod;
  /** `agent` adds the `!id!` header unless the key IP is a single IPv4 host; `manager` never does. */
  sender: Sender;
  /** The counter to write, already advanced by the caller with {@link nextCounter}. */
  counter: MessageCounter;
  /**
   * The 16-bit random field.
   * @default crypto.randomInt(0, 65536)
   */
  random?: number;
  /**
   * zlib compression level, 0 to 9. 9 is Wazuh's; every level gives a standard zlib stream that
   * any receiver inflates. 0 stores the block uncompressed (zlib header, stored block, Adler-32)
   * without compressing at all: about a fifth more bytes, a fraction of the CPU.
   * @default 9
   */
  compressionLevel?: number;
}

/** A decoded secure message. */
export interface DecodedSecureMessage {
  /** The agent id from the `!id!` header, or the id of the key matched by source IP; `undefined` when neither applied. */
  agentId: string | undefined;
  /** The key that decrypted the message. */
  key: AgentKey;
  /** The cipher the payload used. */
  method: CryptoMethod;
  /** The 16-bit random field. */
  random: number;
  /** Global counter. */
  global: number;
  /** Local counter. */
  local: number;
  /** The plaintext message (event or control message). */
  message: Buffer;
}

/** Where {@link decodeSecureMessage} finds keys: a list, a map by id, or a lookup function by id. */
export type KeySource = readonly AgentKey[] | ReadonlyMap<string, AgentKey> | ((id: string) => AgentKey | undefined);

/** Options of {@link decodeSecureMessage}. */
export interface DecodeSecureMessageOptions {
  /**
   * The keys. A payload with an `!id!` header is looked up by id. Without a header, the key whose
   * `ip` equals `sourceIp` is used; with no `sourceIp` (an agent decoding a manager message), the
   * first key of a list or map. A lookup function cannot be searched by IP.
   */
  keys: KeySource;
  /**
   * The peer address (manager side). Used to find the key of a header-less payload, and checked
   * against the key's `ip` (`any`, address, CIDR) when the payload has an `!id!` header.
   */
  sourceIp?: string;
  /** When set, the payload must use this cipher (an agent always decrypts with its configured method). */
  method?: CryptoMethod;
}

const blowfishSchedules = new WeakMap<DerivedKey, Blowfish>();

function blowfishOf(derived: DerivedKey): Blowfish {
  let bf = blowfishSchedules.get(derived);
  if (bf === undefined) {
    bf = new Blowfish(derived.blowfish);
    blowfishSchedules.set(derived, bf);
  }
  return bf;
}

const ZEROS = '0000000000';

function pad(n: number, width: number): string {
  const s = String(n);
  return s.length >= width ? s : ZEROS.slice(0, width - s.length) + s;
}

function tooLarge(message: string): EncodeError {
  return new EncodeError(message, 'ERR_ENCODE_SIZE');
}

function validateCounter(c: MessageCounter): void {
  if (!Number.isInteger(c.global) || c.global < 0 || c.global > 0xffffffff || !Number.isInteger(c.local) || c.local < 0 || c.local > 9999) {
    throw new ConfigError(`Invalid message counter ${String(c.global)}:${String(c.local)} (global 0 to 4294967295, local 0 to 9999)`, {
      element: 'counter',
      value: c,
    });
  }
}

/**
 * Builds a secure-message payload (protocol.md 3.1): header ‖ ciphertext.
 *
 * @param message - the plaintext (a string is encoded as UTF-8), 1 to 65408 bytes.
 * @param opts - key, method, sender, counter, and optionally random and compression level.
 * @returns the payload, ready for a UDP datagram or {@link encodeTcpFrame}.
 * @throws {@link EncodeError} `ERR_ENCODE_SIZE` when the message is empty or too large, or compresses to more than 65524 bytes.
 * @throws {@link ConfigError} `ERR_CONFIG` when the counter, random field, compression level or (for an `!id!` header) the agent id is out of range.
 */
export function encodeSecureMessage(message: Buffer | string, opts: EncodeSecureMessageOptions): Buffer {
  return encode(message, opts, 0);
}

/**
 * Builds a secure message and its TCP length prefix in one buffer: the same bytes as
 * `encodeTcpFrame(encodeSecureMessage(message, opts))`, with one copy less.
 *
 * @param message - the plaintext, 1 to 65408 bytes.
 * @param opts - as {@link encodeSecureMessage}.
 * @returns the TCP frame.
 * @throws {@link EncodeError} `ERR_ENCODE_SIZE` and {@link ConfigError} `ERR_CONFIG`, as {@link encodeSecureMessage}.
 */
export function encodeSecureFrame(message: Buffer | string, opts: EncodeSecureMessageOptions): Buffer {
  return encode(message, opts, FRAME_HEADER_SIZE);
}

/**
 * Scratch of the encoder, reused by every call (the codec is synchronous, so one set serves): the
 * plaintext block at 0, and the compressed stream at {@link ZOFF} of the second buffer, so that the
 * `!` padding goes right before it and the PKCS#7 padding right after it without a copy.
 */
const plainScratch = Buffer.allocUnsafe(MESSAGE_OVERHEAD + MAX_MESSAGE_SIZE);
const ZOFF = 8;
const zScratch = Buffer.allocUnsafe(ZOFF + deflateBound(MESSAGE_OVERHEAD + MAX_MESSAGE_SIZE) + AES_BLOCK_SIZE);

/** Writes `value` as `width` decimal digits (zero-padded) at `off`; `value` must fit. */
function writeDigits(buf: Buffer, off: number, value: number, width: number): void {
  for (let i = off + width - 1; i >= off; i--) {
    buf[i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/** Checks a compression level (0 to 9). */
function checkLevel(level: number): number {
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ConfigError(`compressionLevel must be an integer from 0 to 9, got ${String(level)}`, { element: 'compressionLevel', value: level });
  }
  return level;
}

/** Strings up to this many UTF-16 units fit the plaintext scratch in UTF-8 whatever they hold. */
const SHORT_STRING = Math.floor(MAX_MESSAGE_SIZE / 3);

/** Encodes, leaving `reserve` bytes in front for a TCP length prefix (written when reserve is 4). */
function encode(message: Buffer | string, opts: EncodeSecureMessageOptions, reserve: number): Buffer {
  // A string of at most a third of the limit cannot exceed it in UTF-8 (3 bytes per UTF-16 unit at
  // most): it is written into the scratch at once and measured by the write, not by a pass of its own.
  const plain = plainScratch;
  let msgLen: number;
  if (typeof message !== 'string') msgLen = message.length;
  else if (message.length <= SHORT_STRING) msgLen = plain.write(message, MESSAGE_OVERHEAD, 'utf8');
  else msgLen = Buffer.byteLength(message, 'utf8');
  if (msgLen === 0) throw tooLarge('Cannot send an empty message (a secure message holds 1 to 65408 bytes)');
  if (msgLen > MAX_MESSAGE_SIZE) {
    throw tooLarge(`Message of ${msgLen} bytes exceeds the ${MAX_MESSAGE_SIZE}-byte limit of a secure message`);
  }
  const { key, method, counter } = opts;
  validateCounter(counter);
  const random = opts.random ?? randomInt(0, 65536);
  if (!Number.isInteger(random) || random < 0 || random > 65535) {
    throw new ConfigError(`Invalid random field ${String(random)} (0 to 65535)`, { element: 'random', value: random });
  }
  const level = checkLevel(opts.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL);
  const header = opts.sender === 'agent' && !isSingleHost(key.ip) ? `!${key.id}!` : '';
  if (header.length > 0 && !isValidAgentId(key.id)) {
    throw new ConfigError(`Agent id '${key.id}' cannot be sent in an '!id!' header (expected 1 to 8 digits)`, { element: 'key.id', value: key.id });
  }
  const derived = deriveEncryptionKey(key);

  // md5 ‖ block, block = random(5) global(10) ':' local(4) ':' message
  const plainLen = MESSAGE_OVERHEAD + msgLen;
  writeDigits(plain, MD5_HEX_LEN, random, 5);
  writeDigits(plain, MD5_HEX_LEN + 5, counter.global, 10);
  plain[MD5_HEX_LEN + 15] = COLON;
  writeDigits(plain, MD5_HEX_LEN + 16, counter.local, 4);
  plain[MD5_HEX_LEN + 20] = COLON;
  if (typeof message !== 'string') plain.set(message, MESSAGE_OVERHEAD);
  else if (message.length > SHORT_STRING) plain.write(message, MESSAGE_OVERHEAD, 'utf8');
  plain.write(hexDigest('md5', plain.subarray(MD5_HEX_LEN, plainLen)), 0, 'latin1');

  const z = zScratch;
  const compLen = deflateInto(plain, 0, plainLen, level, z, ZOFF);
  if (compLen > MAX_COMPRESSED_SIZE) {
    throw tooLarge(`Message compresses to ${compLen} bytes, more than the ${MAX_COMPRESSED_SIZE}-byte limit`);
  }

  // 1 to 8 '!' so that '!'s + compressed is a multiple of 8 (protocol.md 3.1 step 7).
  const bangs = ((8 - ((compLen + 1) % 8)) % 8) + 1;
  const paddedLen = bangs + compLen;
  const bodyStart = ZOFF - bangs;
  z.fill(BANG, bodyStart, ZOFF);
  const token = method === 'aes' ? '#AES:' : ':';
  const headLen = header.length + token.length;

  if (method === 'aes') {
    const pkcs = AES_BLOCK_SIZE - (paddedLen % AES_BLOCK_SIZE);
    z.fill(pkcs, ZOFF + compLen, ZOFF + compLen + pkcs);
    const ct = aesEncryptNoPadding(derived.aes, z.subarray(bodyStart, ZOFF + compLen + pkcs));
    const out = Buffer.allocUnsafe(reserve + headLen + ct.length);
    if (reserve) out.writeUInt32LE(headLen + ct.length, 0);
    out.write(header + token, reserve, 'latin1');
    out.set(ct, reserve + headLen);
    return checkFrame(out, reserve);
  }
  const out = Buffer.allocUnsafe(reserve + headLen + paddedLen);
  if (reserve) out.writeUInt32LE(headLen + paddedLen, 0);
  out.write(header + token, reserve, 'latin1');
  const start = reserve + headLen;
  out.set(z.subarray(bodyStart, ZOFF + compLen), start);
  const region = out.subarray(start);
  blowfishOf(derived).encryptCbc(region, region);
  return checkFrame(out, reserve);
}

function checkFrame(out: Buffer, reserve: number): Buffer {
  // 65524 compressed + 8 '!' + 16 PKCS#7 + 15 header can exceed 65536 by a few bytes.
  if (out.length - reserve > MAX_FRAME_SIZE) {
    throw tooLarge(`Secure message of ${out.length - reserve} bytes exceeds the ${MAX_FRAME_SIZE}-byte frame limit`);
  }
  return out;
}

function fail(message: string, code: DecodeErrorCode, agentId: string | undefined, cause?: unknown): DecodeError {
  return new DecodeError(message, code, cause === undefined ? { agentId } : { agentId, cause });
}

function findById(keys: KeySource, id: string): AgentKey | undefined {
  if (typeof keys === 'function') return keys(id);
  if (Array.isArray(keys)) {
    for (const k of keys as readonly AgentKey[]) if (k.id === id) return k;
    return undefined;
  }
  return (keys as ReadonlyMap<string, AgentKey>).get(id);
}

function findByIp(keys: KeySource, ip: string): AgentKey | undefined {
  if (typeof keys === 'function') return undefined;
  const list: Iterable<AgentKey> = Array.isArray(keys) ? (keys as readonly AgentKey[]) : (keys as ReadonlyMap<string, AgentKey>).values();
  for (const k of list) if (k.ip === ip) return k;
  return undefined;
}

function firstKey(keys: KeySource): AgentKey | undefined {
  if (typeof keys === 'function') return undefined;
  if (Array.isArray(keys)) return (keys as readonly AgentKey[])[0];
  return (keys as ReadonlyMap<string, AgentKey>).values().next().value;
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

/**
 * Decodes a secure-message payload (protocol.md 3.3). Only ever returns or throws {@link DecodeError}.
 *
 * @param payload - header ‖ ciphertext (a TCP frame payload or a UDP datagram).
 * @param opts - where to find keys, the peer address, and optionally the required cipher.
 * @returns the message with its agent id, key, method, random field and counters.
 * @throws {@link DecodeError} with codes `ERR_DECODE_SIZE` (empty or oversize payload),
 *   `ERR_DECODE_FORMAT` (bad header, missing `:`, legacy format, bad counters),
 *   `ERR_DECODE_UNKNOWN_AGENT` (no key for the id or source IP, or the source IP is not allowed),
 *   `ERR_DECODE_DECRYPT` (bad ciphertext length, bad padding, no `!` prefix),
 *   `ERR_DECODE_COMPRESSION` (invalid zlib stream, or fewer than 53 / more than 65536 bytes),
 *   `ERR_DECODE_CHECKSUM` (MD5 mismatch). `agentId` is set when the header was read.
 */
export function decodeSecureMessage(payload: Buffer, opts: DecodeSecureMessageOptions): DecodedSecureMessage {
  const n = payload.length;
  if (n === 0) throw fail('Empty secure-message payload', 'ERR_DECODE_SIZE', undefined);
  if (n > MAX_FRAME_SIZE) throw fail(`Secure-message payload of ${n} bytes exceeds ${MAX_FRAME_SIZE} bytes`, 'ERR_DECODE_SIZE', undefined);
  let agentId: string | undefined;
  try {
    let key: AgentKey | undefined;
    const sourceIp = opts.sourceIp === undefined ? undefined : normalizeSourceIp(opts.sourceIp);
    const header = peekAgentId(payload);
    if (header !== undefined) {
      agentId = header.id;
      key = findById(opts.keys, agentId);
      if (key === undefined) throw fail(`No key for agent id '${agentId}'`, 'ERR_DECODE_UNKNOWN_AGENT', agentId);
      if (sourceIp !== undefined && !keyIpAllows(key.ip, sourceIp)) {
        throw fail(`Invalid ID ${agentId} for the source ip '${sourceIp}' (key ip '${key.ip}')`, 'ERR_DECODE_UNKNOWN_AGENT', agentId);
      }
      return decodeBody(payload, header.end, key, agentId, opts.method);
    }
    if (sourceIp !== undefined) {
      key = findByIp(opts.keys, sourceIp);
      if (key === undefined) {
        throw fail(`Message from '${sourceIp}' has no '!id!' header and no key has that IP`, 'ERR_DECODE_UNKNOWN_AGENT', undefined);
      }
      agentId = key.id;
      return decodeBody(payload, 0, key, agentId, opts.method);
    }
    key = firstKey(opts.keys);
    if (key === undefined) {
      throw fail("Payload has no '!id!' header and there is no key to use (empty key list, or a lookup function)", 'ERR_DECODE_UNKNOWN_AGENT', undefined);
    }
    return decodeBody(payload, 0, key, undefined, opts.method);
  } catch (err) {
    throw withAgentId(err, agentId);
  }
}

/** The `!id!` header that starts an agent's payload when the key's IP is not a single host (protocol.md 3.1 step 9). */
export interface AgentIdHeader {
  /** The agent id: 1 to 8 digits. */
  id: string;
  /** Offset of the first byte after the header (the method token). */
  end: number;
}

/**
 * Reads the `!id!` header of a payload without decrypting anything, so that a server finds the key
 * (and checks the source address) before it pays for a decryption. {@link decodeSecurePayload}
 * then decrypts without reading the header again.
 *
 * @param payload - a frame payload or datagram from an agent.
 * @returns the header, or undefined when the payload does not start with `!` (the key is then found
 *   by the sender's address).
 * @throws {@link DecodeError} `ERR_DECODE_FORMAT` when the payload starts with `!` but no valid
 *   header (1 to 8 digits, then `!`) follows.
 */
export function peekAgentId(payload: Buffer): AgentIdHeader | undefined {
  if (payload[0] !== BANG) return undefined;
  const n = payload.length;
  let i = 1;
  let value = 0;
  while (i < n && i < MAX_HEADER_SCAN && isDigit(payload[i])) value = value * 10 + payload[i++]! - 0x30;
  if (i === 1 || payload[i] !== BANG) {
    throw fail("Bad '!id!' header: expected 1 to 8 digits between '!' (offset 0)", 'ERR_DECODE_FORMAT', undefined);
  }
  // the id string of a value and a digit count (leading zeros count), made once per id
  const cacheKey = value * 16 + (i - 1);
  let id = idStrings.get(cacheKey);
  if (id === undefined) {
    if (idStrings.size >= MAX_ID_STRINGS) idStrings.clear();
    id = payload.toString('latin1', 1, i);
    idStrings.set(cacheKey, id);
  }
  return { id, end: i + 1 };
}

/** Agent ids of `!id!` headers by value and digit count: a server sees the same few thousand ids again and again. */
const idStrings = new Map<number, string>();
/** Most ids kept; past that the cache starts again. */
const MAX_ID_STRINGS = 65_536;

/**
 * Decrypts a payload with a key the caller already found: after {@link peekAgentId} and a key
 * lookup by id (the header is not parsed again), or by the sender's address (no header).
 *
 * @param payload - the payload, header included.
 * @param key - the sender's key.
 * @param header - what {@link peekAgentId} returned for this payload.
 * @param opts - `method`: when set, the payload must use this cipher.
 * @returns the message; `agentId` is the header's id, or the key's when there is no header.
 * @throws {@link DecodeError} as {@link decodeSecureMessage}, with `agentId` set.
 */
export function decodeSecurePayload(payload: Buffer, key: AgentKey, header: AgentIdHeader | undefined, opts: { method?: CryptoMethod } = {}): DecodedSecureMessage {
  const agentId = header?.id ?? key.id;
  const n = payload.length;
  try {
    if (n === 0) throw fail('Empty secure-message payload', 'ERR_DECODE_SIZE', agentId);
    if (n > MAX_FRAME_SIZE) throw fail(`Secure-message payload of ${n} bytes exceeds ${MAX_FRAME_SIZE} bytes`, 'ERR_DECODE_SIZE', agentId);
    return decodeBody(payload, header?.end ?? 0, key, agentId, opts.method);
  } catch (err) {
    throw withAgentId(err, agentId);
  }
}

/**
 * The AES ciphertext of a payload, for a caller that decrypts several payloads at once
 * ({@link aesDecryptMany}): what follows the `!id!` header and the `#AES:` token, when that is a
 * positive multiple of 16 bytes.
 *
 * @param payload - the payload.
 * @param header - what {@link peekAgentId} returned for it.
 * @returns the ciphertext (a view), or undefined when the payload is not such an AES payload (it is
 *   then decoded the usual way, with the usual verdict).
 * @internal
 */
export function aesCiphertextOf(payload: Buffer, header: AgentIdHeader | undefined): Buffer | undefined {
  const off = header?.end ?? 0;
  if (payload[off] !== HASH || payload[off + 1] !== 0x41 || payload[off + 2] !== 0x45 || payload[off + 3] !== 0x53 || payload[off + 4] !== COLON) return undefined;
  const n = payload.length - off - 5;
  if (n === 0 || n % AES_BLOCK_SIZE !== 0 || payload.length > MAX_FRAME_SIZE) return undefined;
  return payload.subarray(off + 5);
}

/**
 * {@link decodeSecurePayload} for an AES payload whose ciphertext ({@link aesCiphertextOf}) the
 * caller has decrypted already ({@link aesDecryptMany}, padding kept): the same result and the same
 * errors as decoding it whole.
 *
 * @param payload - the payload, header included.
 * @param key - the key that decrypted it.
 * @param header - what {@link peekAgentId} returned for this payload.
 * @param padded - its decrypted ciphertext, PKCS#7 padding included.
 * @returns the message.
 * @throws {@link DecodeError} as {@link decodeSecurePayload}, with `agentId` set.
 * @internal
 */
export function decodeDecryptedPayload(payload: Buffer, key: AgentKey, header: AgentIdHeader | undefined, padded: Buffer): DecodedSecureMessage {
  const agentId = header?.id ?? key.id;
  try {
    return decodeBody(payload, header?.end ?? 0, key, agentId, undefined, padded);
  } catch (err) {
    throw withAgentId(err, agentId);
  }
}

/** A {@link DecodeError} that names the agent, whatever was thrown. */
function withAgentId(err: unknown, agentId: string | undefined): DecodeError {
  if (err instanceof DecodeError) {
    if (err.agentId !== undefined || agentId === undefined) return err;
    return fail(err.message, err.code as DecodeErrorCode, agentId, err.cause);
  }
  return fail(`Unexpected failure while decoding a secure message: ${err instanceof Error ? err.message : String(err)}`, 'ERR_DECODE_FORMAT', agentId, err);
}

/** Decrypts and checks what follows the header, from `off`. */
function decodeBody(
  payload: Buffer,
  start: number,
  key: AgentKey,
  agentId: string | undefined,
  required: CryptoMethod | undefined,
  aesPadded?: Buffer,
): DecodedSecureMessage {
  let off = start;
  let method: CryptoMethod;
  if (payload[off] === HASH && payload[off + 1] === 0x41 && payload[off + 2] === 0x45 && payload[off + 3] === 0x53) {
    method = 'aes';
    off += 4;
  } else {
    method = 'blowfish';
  }
  if (required !== undefined && required !== method) {
    throw fail(`Payload uses ${method} but ${required} is configured (offset ${off})`, 'ERR_DECODE_FORMAT', agentId);
  }
  if (payload[off] !== COLON) {
    throw fail(`Expected ':' after the method token at offset ${off}`, 'ERR_DECODE_FORMAT', agentId);
  }
  off++;

  let plain: Buffer;
  if (aesPadded !== undefined && method === 'aes') {
    plain = aesUnpad(aesPadded);
  } else if (method === 'aes') {
    plain = aesDecrypt(deriveEncryptionKey(key).aes, payload.subarray(off));
  } else {
    const ct = payload.subarray(off);
    const derived = deriveEncryptionKey(key);
    if (ct.length === 0 || ct.length % BLOWFISH_BLOCK_SIZE !== 0) {
      throw fail(`Blowfish ciphertext of ${ct.length} bytes is not a positive multiple of 8`, 'ERR_DECODE_DECRYPT', agentId);
    }
    plain = Buffer.allocUnsafe(ct.length);
    blowfishOf(derived).decryptCbc(ct, plain);
  }

  const first = plain[0];
  if (first !== BANG) {
    if (first === COLON) {
      throw fail('Legacy uncompressed message format is not supported', 'ERR_DECODE_FORMAT', agentId);
    }
    throw fail("Decrypted data does not start with '!' (wrong key or corrupt payload)", 'ERR_DECODE_DECRYPT', agentId);
  }
  let z = 1;
  while (z < plain.length && plain[z] === BANG) z++;

  const block = inflateZlib(plain, z, plain.length, MAX_DECOMPRESSED_SIZE);
  if (block.length < MESSAGE_OVERHEAD) {
    throw fail(`Decompressed block of ${block.length} bytes is shorter than the ${MESSAGE_OVERHEAD}-byte minimum`, 'ERR_DECODE_COMPRESSION', agentId);
  }

  const sum = hexDigest('md5', block.subarray(MD5_HEX_LEN));
  for (let i = 0; i < MD5_HEX_LEN; i++) {
    if (block[i] !== sum.charCodeAt(i)) throw fail('Checksum mismatch', 'ERR_DECODE_CHECKSUM', agentId);
  }

  const base = MD5_HEX_LEN;
  const random = parseDigits(block, base, 5, agentId);
  const global = parseDigits(block, base + 5, 10, agentId);
  if (block[base + 15] !== COLON) throw fail(`Expected ':' at block offset 15`, 'ERR_DECODE_FORMAT', agentId);
  const local = parseDigits(block, base + 16, 4, agentId);
  if (block[base + 20] !== COLON) throw fail(`Expected ':' at block offset 20`, 'ERR_DECODE_FORMAT', agentId);

  return { agentId, key, method, random, global, local, message: block.subarray(base + BLOCK_HEADER_LEN) };
}

function parseDigits(b: Buffer, start: number, len: number, agentId: string | undefined): number {
  let v = 0;
  for (let i = start; i < start + len; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x39) {
      throw fail(`Expected a decimal digit at block offset ${i - MD5_HEX_LEN}`, 'ERR_DECODE_FORMAT', agentId);
    }
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/**
 * Tells whether a raw (unencrypted) payload is the `#ping` health check (protocol.md 3.11).
 *
 * @param payload - a frame payload or datagram.
 * @returns `true` when it starts with `#ping`.
 */
export function isPing(payload: Buffer): boolean {
  return payload.length >= 5 && payload[0] === HASH && payload.toString('latin1', 0, 5) === PING;
}
