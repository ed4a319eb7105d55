/**
 * Checks shared by `resolveOptions()` and the ossec.conf parser. Internal: not part of the public API.
 * Every check takes the element or option path to name in the error, so each caller reports in its
 * own vocabulary (`servers[1].port` or `client/server[2]/port`).
 *
 * @internal
 * @module
 */
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';
import { isValidKeyIp } from '../protocol/keys.js';

/** What a secret is replaced with in error values. */
export const REDACTED = '[redacted]';

/**
 * Builds a ConfigError naming the element and carrying the (already redacted) value.
 *
 * @param element - option path or XML element.
 * @param message - full message.
 * @param value - the offending value, never a secret.
 * @returns the error, to throw.
 */
export function configError(element: string, message: string, value: unknown): ConfigError {
  return new ConfigError(message, { element, value });
}

/**
 * Renders a value for an error message: strings quoted and cut at 60 characters, other values as JSON.
 *
 * @param value - the value.
 * @returns one line of text.
 */
export function show(value: unknown): string {
  if (value === REDACTED) return REDACTED;
  if (typeof value === 'string') {
    const t = value.length > 60 ? `${value.slice(0, 60)}…` : value;
    return JSON.stringify(t);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

/** Range description of a numeric option. */
export interface NumberRule {
  /** Smallest allowed value. */
  min: number;
  /** Largest allowed value. */
  max: number;
  /** `min` itself is not allowed (for "greater than 0"). */
  minExclusive?: boolean;
  /** Only integers. */
  integer?: boolean;
  /** Unit named in messages, e.g. `milliseconds`. */
  unit?: string;
}

/**
 * Describes a rule for messages: `an integer from 1 to 65535`, `a number greater than 0 and at most …`.
 *
 * @param rule - the rule.
 * @returns the description.
 */
export function describeRule(rule: NumberRule): string {
  const kind = rule.integer ? 'an integer' : 'a number';
  const unit = rule.unit ? ` ${rule.unit}` : '';
  if (rule.minExclusive) return `${kind} greater than ${rule.min} and at most ${rule.max}${unit}`;
  return `${kind} from ${rule.min} to ${rule.max}${unit}`;
}

/**
 * Checks a number against a rule.
 *
 * @param value - the candidate (any type).
 * @param element - path to name in the error.
 * @param rule - the range.
 * @returns the number.
 * @throws {@link ConfigError} when it is not a finite number in range.
 */
export function checkNumber(value: unknown, element: string, rule: NumberRule): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!rule.integer || Number.isInteger(value)) &&
    (rule.minExclusive ? value > rule.min : value >= rule.min) &&
    value <= rule.max;
  if (!ok) throw configError(element, `${element} must be ${describeRule(rule)}; got ${show(value)}`, value);
  return value;
}

/**
 * Checks a number when present and returns the default otherwise.
 *
 * @param value - the candidate, `undefined` for the default.
 * @param element - path to name in the error.
 * @param rule - the range.
 * @param def - the default.
 * @returns the number or the default.
 */
export function optNumber(value: unknown, element: string, rule: NumberRule, def: number): number {
  return value === undefined ? def : checkNumber(value, element, rule);
}

/**
 * Checks a boolean when present.
 *
 * @param value - the candidate.
 * @param element - path to name in the error.
 * @param def - the default.
 * @returns the boolean or the default.
 */
export function optBoolean(value: unknown, element: string, def: boolean): boolean {
  if (value === undefined) return def;
  if (typeof value !== 'boolean') throw configError(element, `${element} must be true or false; got ${show(value)}`, value);
  return value;
}

/**
 * Checks that a value is one of a list of strings.
 *
 * @param value - the candidate.
 * @param element - path to name in the error.
 * @param allowed - the allowed values.
 * @returns the value.
 */
export function checkOneOf<T extends string>(value: unknown, element: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw configError(element, `${element} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}; got ${show(value)}`, value);
  }
  return value as T;
}

/**
 * Tells whether an IPv6 address is link-local (`fe80::/10`).
 *
 * @param address - the address (a `%scope` suffix is allowed).
 * @returns `true` for a link-local IPv6 address.
 */
export function isIPv6LinkLocal(address: string): boolean {
  const bare = address.split('%', 1)[0] ?? '';
  return isIP(bare) === 6 && /^fe[89ab][0-9a-f]:/i.test(bare);
}

/** Server addresses Wazuh refuses: the installer placeholder and the unspecified address (`(4112)`). */
export function isPlaceholderAddress(address: string): boolean {
  return address === '' || address === 'MANAGER_IP' || address === '0.0.0.0';
}

const HOST_RE = /^[A-Za-z0-9_.-]+$/;

/**
 * Checks a server or authd address: an IP address (IPv6 with an optional `%scope`) or a host name;
 * no blanks and no `/` (protocol.md 6.1).
 *
 * @param value - the candidate.
 * @param element - path to name in the error.
 * @returns the address.
 */
export function checkHost(value: unknown, element: string): string {
  if (typeof value !== 'string') throw configError(element, `${element} must be a host name or IP address; got ${show(value)}`, value);
  if (value === '' || value === 'MANAGER_IP' || value === '0.0.0.0') {
    throw configError(
      element,
      `${element} must be the manager's host name or IP address; got ${show(value)} ((4112): Invalid server address found)`,
      value,
    );
  }
  // a host name (an IPv4 address is one too) first: one regular expression, no copy
  if (HOST_RE.test(value) || isIPv4(value)) return value;
  const scope = value.indexOf('%');
  if (isIPv6(scope < 0 ? value : value.slice(0, scope))) return value;
  throw configError(element, `${element} must be a host name or IP address (no blanks, no '/'); got ${show(value)}`, value);
}

/**
 * Checks an enrollment agent address: `src` or an IP address or CIDR block.
 *
 * @param value - the candidate.
 * @param element - path to name in the error.
 * @returns the value.
 */
export function checkAgentAddress(value: unknown, element: string): string {
  if (typeof value === 'string' && (value === 'src' || (value !== 'any' && isValidKeyIp(value)))) return value;
  throw configError(element, `${element} must be 'src', an IP address or a CIDR block; got ${show(value)}`, value);
}

const GROUP_RE = /^[A-Za-z0-9_.-]+$/;

/**
 * Checks one enrollment group name: `[A-Za-z0-9_.-]+`, not `.` or `..`.
 *
 * @param value - the candidate.
 * @param element - path to name in the error.
 * @returns the group.
 */
export function checkGroup(value: unknown, element: string): string {
  if (typeof value === 'string' && GROUP_RE.test(value) && value !== '.' && value !== '..') return value;
  throw configError(element, `${element} must be a group name of [A-Za-z0-9_.-] characters, not '.' or '..'; got ${show(value)}`, value);
}

/**
 * Checks a label key and value: the key is not empty and holds no `"` or line break; the value holds no
 * line break (each label is one keepalive line, protocol.md 4.3).
 *
 * @param key - the key.
 * @param value - the value.
 * @param element - path to name in the error.
 */
export function checkLabel(key: unknown, value: unknown, element: string): void {
  if (typeof key !== 'string' || key === '' || /["\r\n]/.test(key)) {
    throw configError(element, `${element}: a label key must be a non-empty string without '"' or line breaks; got ${show(key)}`, key);
  }
  if (typeof value !== 'string' || /[\r\n]/.test(value)) {
    throw configError(element, `${element}: the value of label '${key}' must be a string without line breaks; got ${show(value)}`, value);
  }
}
