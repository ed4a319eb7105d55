/**
 * Logging: agentlink takes any pino-compatible logger and is silent without one. Secrets (keys,
 * enrollment passwords) are never passed to a logger; {@link createLogger} also redacts the usual
 * secret paths in case a caller logs an options object.
 *
 * @module
 */
import { pino } from 'pino';
import type { LoggerOptions } from 'pino';

/** The logger shape agentlink needs: pino's, or any compatible logger. */
export interface Logger {
  /** Debug-level log. */
  debug(obj: object | string, msg?: string, ...args: unknown[]): void;
  /** Info-level log. */
  info(obj: object | string, msg?: string, ...args: unknown[]): void;
  /** Warn-level log. */
  warn(obj: object | string, msg?: string, ...args: unknown[]): void;
  /** Error-level log. */
  error(obj: object | string, msg?: string, ...args: unknown[]): void;
  /** A child logger with bound fields. */
  child(bindings: Record<string, unknown>): Logger;
}

/** Object paths pino redacts in loggers made by {@link createLogger}. */
export const REDACTED_PATHS: readonly string[] = [
  'key',
  'password',
  'agent.key',
  'keys',
  'enrollment.password',
  'enrollment.key',
  '*.key',
  '*.password',
  '*.keys',
];

/**
 * Builds a pino logger with secret paths redacted.
 *
 * @param options - pino options (level, transport, ...); `redact` is merged with {@link REDACTED_PATHS}.
 * @returns a logger usable as the `logger` option.
 * @example
 * ```ts
 * const client = new AgentClient({ ..., logger: createLogger({ level: 'debug' }) });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const extra = Array.isArray(options.redact) ? options.redact : (options.redact?.paths ?? []);
  return pino({ ...options, redact: { paths: [...REDACTED_PATHS, ...extra], censor: '[redacted]' } }) as unknown as Logger;
}

const noop = (): void => {};

/** A logger that discards everything, shared by every agent that was given none (cheap for large fleets). */
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
