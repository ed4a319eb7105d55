/**
 * client.keys parsing and per-agent key derivation (protocol.md 2.1 to 2.3).
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';
import { hexDigest } from './hash.js';
import type { AgentKey } from './types.js';

/** Longest agent id accepted, in digits (`OS_IsValidID`). */
export const MAX_AGENT_ID_LENGTH = 8;
/** Characters of a client.keys name or key that Wazuh keeps (`KEYSIZE` − 1). */
const KEY_FIELD_LIMIT = 127;

/** Keys derived from one client.keys entry (protocol.md 2.2). A secret: never log it. */
export interface DerivedKey {
  /** `md5hex(key) ‖ md5hex(md5hex(name) ‖ md5hex(id))[0..15)`: 47 ASCII characters. */
  encryptionKey: string;
  /** AES-256 key: the 32 ASCII bytes of `md5hex(key)`. */
  aes: Buffer;
  /** Blowfish key: the 47 ASCII bytes of `encryptionKey`. */
  blowfish: Buffer;
}

/** client.keys content with the ids of removed entries, for id allocation (protocol.md 7.5). */
export interface ParsedClientKeys {
  /** Valid, non-removed entries in file order. */
  keys: AgentKey[];
  /** Ids of entries whose name starts with `#` or `!` (removed agents); they still count for the highest id. */
  removedIds: string[];
}

const ID_RE = /^[0-9]{1,8}$/;
const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{1,127}$/;

/**
 * Tells whether a string is a valid agent id: 1 to 8 decimal digits (`OS_IsValidID`).
 *
 * @param id - the candidate id.
 * @returns `true` when valid.
 */
export function isValidAgentId(id: string): boolean {
  return ID_RE.test(id);
}

/**
 * Tells whether a string is a valid agent name: 2 to 128 characters of `[A-Za-z0-9._-]`, not
 * starting with `.` (`OS_IsValidName`).
 *
 * @param name - the candidate name.
 * @returns `true` when valid.
 */
export function isValidAgentName(name: string): boolean {
  return NAME_RE.test(name);
}

/**
 * Tells whether a client.keys `ip` field or an enrollment `IP:` field is valid (`OS_IsValidIP`):
 * `any`, an IPv4 address, an IPv4 CIDR (`10.0.0.0/8` or `10.0.0.0/255.0.0.0`, contiguous mask), an
 * IPv6 address, or an IPv6 prefix (`fd00::/64`).
 *
 * @param ip - the candidate.
 * @returns `true` when valid.
 */
export function isValidKeyIp(ip: string): boolean {
  if (ip === 'any') return true;
  const slash = ip.indexOf('/');
  const base = slash < 0 ? ip : ip.slice(0, slash);
  const mask = slash < 0 ? undefined : ip.slice(slash + 1);
  if (isIPv4(base)) {
    if (mask === undefined) return true;
    if (/^[0-9]{1,2}$/.test(mask)) return Number(mask) <= 32;
    return isIPv4(mask) && isContiguousMask(mask);
  }
  if (isIPv6(base)) {
    if (mask === undefined) return true;
    return /^[0-9]{1,3}$/.test(mask) && Number(mask) <= 128;
  }
  return false;
}

function isContiguousMask(mask: string): boolean {
  const n = mask.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
  const inverted = ~n >>> 0;
  return (inverted & (inverted + 1)) === 0;
}

/**
 * Parses client.keys text, also returning the ids of removed entries.
 *
 * Lines are split on `\n` only, so a trailing `\r` becomes part of the key, as in Wazuh. Empty lines
 * and lines starting with `#` or a space are skipped. An entry whose name starts with `#` or `!` is a
 * removed agent: it is skipped, and its id (when valid) is listed in `removedIds`.
 *
 * @param text - the file content.
 * @returns the entries and the removed ids.
 * @throws {@link ConfigError} `ERR_CONFIG_KEYS` naming the line number when a line has a bad id, a bad
 *   name, or no IP or key. The key text never appears in the error.
 */
export function parseClientKeysDetailed(text: string): ParsedClientKeys {
  const keys: AgentKey[] = [];
  const removedIds: string[] = [];
  const lineOfId = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.length === 0 || line[0] === '#' || line[0] === ' ') continue;
    const lineNo = i + 1;
    const s1 = line.indexOf(' ');
    const id = s1 < 0 ? line : line.slice(0, s1);
    const s2 = s1 < 0 ? -1 : line.indexOf(' ', s1 + 1);
    const name = s1 < 0 ? '' : s2 < 0 ? line.slice(s1 + 1) : line.slice(s1 + 1, s2);
    if (name.startsWith('#') || name.startsWith('!')) {
      if (isValidAgentId(id)) removedIds.push(id);
      continue;
    }
    if (!isValidAgentId(id)) {
      throw keysError(`client.keys line ${lineNo}: invalid agent id '${printable(id)}' (expected 1 to 8 digits)`, lineNo);
    }
    if (!isValidAgentName(name)) {
      throw keysError(
        `client.keys line ${lineNo}: invalid agent name '${printable(name)}' for id ${id} (expected 2 to 128 characters of [A-Za-z0-9._-], not starting with '.')`,
        lineNo,
      );
    }
    const s3 = s2 < 0 ? -1 : line.indexOf(' ', s2 + 1);
    if (s2 < 0 || s3 < 0 || s3 === s2 + 1) {
      throw keysError(`client.keys line ${lineNo}: agent ${id} has no IP and key fields`, lineNo);
    }
    const ip = line.slice(s2 + 1, s3);
    if (!isValidKeyIp(ip)) {
      throw keysError(`client.keys line ${lineNo}: agent ${id} has an invalid IP field '${printable(ip)}' (expected any, an IP address or a CIDR block)`, lineNo);
    }
    const key = line.slice(s3 + 1, s3 + 1 + KEY_FIELD_LIMIT);
    if (key.length === 0) throw keysError(`client.keys line ${lineNo}: agent ${id} has an empty key`, lineNo);
    const first = lineOfId.get(id);
    if (first !== undefined) throw keysError(`client.keys line ${lineNo}: agent id ${id} is already on line ${first}; every agent needs its own id`, lineNo);
    lineOfId.set(id, lineNo);
    keys.push({ id, name: name.slice(0, KEY_FIELD_LIMIT), ip, key });
  }
  return { keys, removedIds };
}

/**
 * Parses client.keys text (protocol.md 2.1). See {@link parseClientKeysDetailed} for the rules.
 *
 * @param text - the file content.
 * @returns the valid, non-removed entries in file order.
 * @throws {@link ConfigError} `ERR_CONFIG_KEYS` naming the line number of an invalid line.
 */
export function parseClientKeys(text: string): AgentKey[] {
  return parseClientKeysDetailed(text).keys;
}

/**
 * Formats entries as client.keys text: `<id> <name> <ip> <key>\n` per entry.
 *
 * @param keys - the entries.
 * @returns the file content (empty string for no entries).
 */
export function formatClientKeys(keys: readonly AgentKey[]): string {
  let out = '';
  for (const k of keys) out += `${k.id} ${k.name} ${k.ip} ${k.key}\n`;
  return out;
}

function keysError(message: string, line: number): ConfigError {
  return new ConfigError(message, { element: `client.keys:${line}` }, 'ERR_CONFIG_KEYS');
}

/** Id and name are not secrets, but keep error messages one line and short. */
function printable(s: string): string {
  const t = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  return JSON.stringify(t).slice(1, -1);
}

/** md5hex of a string's UTF-8 bytes (what C reads from a UTF-8 client.keys; ASCII in practice). */
function md5hex(s: string): string {
  return hexDigest('md5', s);
}

/** Bounded cache of derivations: decode runs per message. */
const DERIVED_CACHE_LIMIT = 65536;
const derivedCache = new Map<string, DerivedKey>();
/** Per-object fast path; the inputs are kept to notice an entry mutated in place. */
const derivedByObject = new WeakMap<object, { id: string; name: string; key: string; derived: DerivedKey }>();

/**
 * Derives the AES and Blowfish keys of a client.keys entry (protocol.md 2.2). Results are cached
 * (up to 65536 distinct entries, oldest dropped first), so calling this per message is cheap.
 *
 * @param key - the entry's `id`, `name` and raw `key`.
 * @returns the derived keys. Treat the returned Buffers as read-only: they are shared.
 */
export function deriveEncryptionKey(key: Pick<AgentKey, 'id' | 'name' | 'key'>): DerivedKey {
  const byObject = derivedByObject.get(key);
  if (byObject !== undefined && byObject.id === key.id && byObject.name === key.name && byObject.key === key.key) {
    return byObject.derived;
  }
  const cacheKey = `${key.id}\0${key.name}\0${key.key}`;
  let hit = derivedCache.get(cacheKey);
  if (hit === undefined) {
    hit = computeDerivedKey(key);
    if (derivedCache.size >= DERIVED_CACHE_LIMIT) {
      const oldest = derivedCache.keys().next().value;
      if (oldest !== undefined) derivedCache.delete(oldest);
    }
    derivedCache.set(cacheKey, hit);
  }
  derivedByObject.set(key, { id: key.id, name: key.name, key: key.key, derived: hit });
  return hit;
}

function computeDerivedKey(key: Pick<AgentKey, 'id' | 'name' | 'key'>): DerivedKey {
  const a = md5hex(key.name);
  const b = md5hex(key.id);
  const c = md5hex(a + b);
  const d = md5hex(key.key);
  const encryptionKey = d + c.slice(0, 15);
  // Both keys in one buffer of their own: a slice of the shared Buffer pool would keep its whole
  // 8 KB slab alive as long as the key is cached, and the slabs fill with short-lived message
  // buffers between two derivations (measured: 0.9 KB of external memory per agent on a manager).
  const bytes = Buffer.allocUnsafeSlow(d.length + encryptionKey.length);
  bytes.write(d, 0, 'latin1');
  bytes.write(encryptionKey, d.length, 'latin1');
  return {
    encryptionKey,
    aes: bytes.subarray(0, d.length),
    blowfish: bytes.subarray(d.length),
  };
}

/**
 * The key hash sent in the enrollment `K:` field (protocol.md 2.3): `sha1hex(id ‖ name ‖ key)`.
 *
 * @param key - the entry's `id`, `name` and raw `key`.
 * @returns 40 lowercase hex characters.
 */
export function enrollmentKeyHash(key: Pick<AgentKey, 'id' | 'name' | 'key'>): string {
  return hexDigest('sha1', key.id + key.name + key.key);
}

const MASK_ALL_ONES = '255.255.255.255';

/**
 * Tells whether a client.keys `ip` field names a single IPv4 host (`a.b.c.d`, `a.b.c.d/32` or
 * `a.b.c.d/255.255.255.255`). Agents with such a key send no `!id!` header (protocol.md 3.1 step 9).
 *
 * @param ip - the key's `ip` field.
 * @returns `true` for a single IPv4 host; `false` for `any`, other CIDRs, IPv6 and anything else.
 */
export function isSingleHost(ip: string): boolean {
  const slash = ip.indexOf('/');
  if (slash < 0) return isIPv4(ip);
  const mask = ip.slice(slash + 1);
  return isIPv4(ip.slice(0, slash)) && (mask === '32' || mask === MASK_ALL_ONES);
}

function ipv4ToInt(ip: string): number {
  const p = ip.split('.');
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

/**
 * Tells whether a key's `ip` field admits a source address, as the manager checks an `!id!` header
 * (protocol.md 3.3 step 1): `any` admits everything, an IPv4 address or CIDR admits the addresses it
 * contains, an IPv6 address admits itself. IPv4-mapped IPv6 sources (`::ffff:a.b.c.d`) are compared
 * as IPv4.
 *
 * @param keyIp - the key's `ip` field.
 * @param sourceIp - the peer address.
 * @returns `true` when the source is allowed.
 */
export function keyIpAllows(keyIp: string, sourceIp: string): boolean {
  if (keyIp === 'any') return true;
  const src = normalizeSourceIp(sourceIp);
  const slash = keyIp.indexOf('/');
  const base = slash < 0 ? keyIp : keyIp.slice(0, slash);
  if (!isIPv4(base)) return base.toLowerCase() === src.toLowerCase();
  if (!isIPv4(src)) return false;
  let maskBits = 32;
  if (slash >= 0) {
    const m = keyIp.slice(slash + 1);
    if (isIPv4(m)) {
      const mi = ipv4ToInt(m);
      return ((ipv4ToInt(base) & mi) >>> 0) === ((ipv4ToInt(src) & mi) >>> 0);
    }
    if (!/^[0-9]{1,2}$/.test(m) || Number(m) > 32) return false;
    maskBits = Number(m);
  }
  if (maskBits === 0) return true;
  const mask = maskBits === 32 ? 0xffffffff : ~(0xffffffff >>> maskBits) >>> 0;
  return ((ipv4ToInt(base) & mask) >>> 0) === ((ipv4ToInt(src) & mask) >>> 0);
}

/**
 * Strips the `::ffff:` prefix of an IPv4-mapped IPv6 address (what a dual-stack server reports).
 *
 * @param ip - a peer address.
 * @returns the IPv4 form when `ip` is IPv4-mapped, otherwise `ip`.
 */
export function normalizeSourceIp(ip: string): string {
  if (ip.length > 7 && (ip.startsWith('::ffff:') || ip.startsWith('::FFFF:'))) {
    const v4 = ip.slice(7);
    if (isIPv4(v4)) return v4;
  }
  return ip;
}
