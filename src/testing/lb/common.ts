/**
 * Types and option checks shared by the HAProxy and nginx harnesses.
 *
 * @module
 */
import { ConfigError } from '../../errors.js';

/** One server behind the balancer: a manager node's remoted (events) or authd (enrollment) listener. */
export interface LbBackend {
  /** Server name in the balancer config (`node1`, `master`, `worker1`): letters, digits, `_ . -`. */
  name: string;
  /** IP address or host name the balancer connects to (`127.0.0.1` in tests). */
  address: string;
  /** TCP port, 1–65535. */
  port: number;
}

/** Extra raw configuration lines, for what the generated config does not cover. Each entry is one line. */
export type ExtraLines = readonly string[];

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const ADDRESS_RE = /^[A-Za-z0-9_.:-]{1,255}$/;

/**
 * Checks a port option.
 *
 * @param value - the value given.
 * @param element - the option path, for the error.
 * @param allowZero - whether 0 (pick a free port) is allowed.
 * @returns the port.
 * @throws {@link agentlink!ConfigError} when it is not an integer in range.
 */
export function checkPort(value: unknown, element: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 65535) {
    throw new ConfigError(`${element} must be an integer from ${min} to 65535`, { element, value });
  }
  return value;
}

/**
 * Checks a positive whole number of milliseconds.
 *
 * @param value - the value given.
 * @param element - the option path, for the error.
 * @returns the value.
 * @throws {@link agentlink!ConfigError} when it is not a positive integer.
 */
export function checkPositiveInt(value: unknown, element: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${element} must be a positive integer`, { element, value });
  }
  return value;
}

/**
 * Checks a host/address option: no spaces or config syntax can reach the generated file.
 *
 * @param value - the value given.
 * @param element - the option path, for the error.
 * @returns the address.
 * @throws {@link agentlink!ConfigError} when it contains anything but letters, digits and `_ . : -`.
 */
export function checkAddress(value: unknown, element: string): string {
  if (typeof value !== 'string' || !ADDRESS_RE.test(value)) {
    throw new ConfigError(`${element} must be an IP address or host name (letters, digits, '_', '.', ':', '-')`, { element, value });
  }
  return value;
}

/**
 * Checks a list of backends: non-empty, valid names (unique), addresses and ports.
 *
 * @param value - the list given.
 * @param element - the option path, for the error.
 * @returns a copy of the list.
 * @throws {@link agentlink!ConfigError} naming the first bad entry.
 */
export function checkBackends(value: unknown, element: string): LbBackend[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ConfigError(`${element} must list at least one server`, { element, value });
  }
  const seen = new Set<string>();
  return value.map((entry: unknown, i): LbBackend => {
    const at = `${element}[${i}]`;
    if (typeof entry !== 'object' || entry === null) throw new ConfigError(`${at} must be { name, address, port }`, { element: at, value: entry });
    const { name, address, port } = entry as Partial<LbBackend>;
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw new ConfigError(`${at}.name must be 1-64 letters, digits, '_', '.' or '-'`, { element: `${at}.name`, value: name });
    }
    if (seen.has(name)) throw new ConfigError(`${at}.name '${name}' is used twice`, { element: `${at}.name`, value: name });
    seen.add(name);
    return { name, address: checkAddress(address, `${at}.address`), port: checkPort(port, `${at}.port`, false) };
  });
}

/**
 * Checks extra raw config lines: strings without line breaks.
 *
 * @param value - the lines given, or undefined.
 * @param element - the option path, for the error.
 * @returns the lines (empty when none).
 * @throws {@link agentlink!ConfigError} when an entry is not a single line.
 */
export function checkExtraLines(value: unknown, element: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new ConfigError(`${element} must be an array of config lines`, { element, value });
  return value.map((line: unknown, i) => {
    if (typeof line !== 'string' || /[\r\n]/.test(line)) {
      throw new ConfigError(`${element}[${i}] must be one config line (a string without line breaks)`, { element: `${element}[${i}]`, value: line });
    }
    return line;
  });
}

/**
 * Formats `address:port`, bracketing IPv6 addresses (`[::1]:1514`) as both HAProxy and nginx want.
 *
 * @param address - IP address or host name.
 * @param port - the port.
 * @returns the endpoint text.
 */
export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Formats milliseconds the way both HAProxy and nginx read durations, in the largest exact unit
 * (`60000` → `1m`, `10000` → `10s`, `1500` → `1500ms`).
 *
 * @param ms - milliseconds.
 * @returns the duration text.
 */
export function duration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Whether a start failure looks like a port taken between picking and binding it (worth a retry with new ports). */
export function isBindFailure(text: string): boolean {
  return /cannot bind socket|Address already in use|bind\(\) to .* failed/i.test(text);
}
