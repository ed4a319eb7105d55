/**
 * Values of command-line flags: durations, numbers, choices, and `node:util` `parseArgs` errors
 * turned into one-line usage errors with a "did you mean" hint. Shared by `simulate`, the demo and
 * the soak's command line.
 *
 * @module
 */
import { parseDuration as parseDurationConfig } from '../config/index.js';
import { ConfigError, ToolError } from '../errors.js';

/**
 * @param message - what was wrong and what to write instead.
 * @param cause - the error behind it.
 * @returns a usage error (`ERR_USAGE`).
 */
export function usage(message: string, cause?: unknown): ToolError {
  return new ToolError(message, 'ERR_USAGE', cause === undefined ? undefined : { cause });
}

/** Edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * The closest known flag to a mistyped one, when it is close enough to be a typo.
 *
 * @param flag - the unknown flag, with or without dashes.
 * @param known - the known flag names without dashes.
 * @returns `--name`, or undefined.
 */
export function suggestFlag(flag: string, known: readonly string[]): string | undefined {
  const name = flag.replace(/^-+/, '').split('=')[0] ?? '';
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? `--${best}` : undefined;
}

/**
 * Turns a `node:util` `parseArgs` error into a one-line usage error naming the flag.
 *
 * @param err - the error `parseArgs` threw.
 * @param known - the command's flag names (without dashes), for suggestions.
 * @param command - the command, for the help hint (`simulate`).
 * @returns the usage error (other errors are returned as they are).
 */
export function translateParseArgsError(err: unknown, known: readonly string[], command: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  const help = `see agentlink ${command} --help`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const hint = suggestFlag(quoted, known);
    return usage(`unknown flag '${quoted}'${hint ? `; did you mean ${hint}?` : ''} (${help})`, err);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(' ')[0] ?? quoted;
    if (/does not take an argument/.test(message)) return usage(`${flag} is a switch and takes no value; write just ${flag}`, err);
    return usage(`${flag} needs a value, e.g. ${flag} VALUE (${help})`, err);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return usage(`unexpected argument '${quoted}'; every value belongs to a flag (${help})`, err);
  }
  return err;
}

/**
 * Parses a CLI duration (`500ms`, `30s`, `1m`, `2h`, `1h30m`; a bare `0`).
 *
 * @param text - the value.
 * @param flag - the flag, for the error message.
 * @returns milliseconds.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the flag and the accepted forms.
 */
export function parseFlagDuration(text: string, flag: string): number {
  try {
    return parseDurationConfig(text, flag);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw usage(`${flag} '${text}' is not a duration; write it like 500ms, 30s, 1m, 2h or 1h30m`, err);
    }
    throw err;
  }
}

/** A whole number in [min, max], or a usage error naming the flag with an example. */
export function parseInteger(text: string, flag: string, min: number, max: number, example: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usage(`${flag} '${text}' must be a whole number from ${min} to ${max}, e.g. ${flag} ${example}`);
  }
  return n;
}

/** A decimal number in [min, max], or a usage error naming the flag with an example. */
export function parseNumber(text: string, flag: string, min: number, max: number, example: string): number {
  const t = text.trim();
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw usage(`${flag} '${text}' must be a number from ${min} to ${max === Infinity ? 'any' : max}, e.g. ${flag} ${example}`);
  }
  return n;
}

/** One of `choices`, or a usage error naming the flag and the choices. */
export function parseChoice<T extends string>(text: string, flag: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw usage(`${flag} '${text}' is not one of ${choices.join(', ')}`);
}

