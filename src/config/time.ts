/**
 * Time strings: Wazuh's `N[smhdw]` (`<force_reconnect_interval>`) and human durations for the CLI.
 *
 * @module
 */
import { ConfigError } from '../errors.js';

const WAZUH_UNIT_MS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const WAZUH_TIME_RE = /^(\d+)([smhdw]?)$/;

/**
 * Parses a Wazuh time string (`w_parse_time`): a whole number followed by nothing or `s` (seconds),
 * `m`, `h`, `d` or `w`. Blanks around it are ignored.
 *
 * @example
 * ```ts
 * parseWazuhTime('90', 'client/force_reconnect_interval'); // 90_000
 * parseWazuhTime('2h', 'client/force_reconnect_interval'); // 7_200_000
 * ```
 *
 * @param text - the time string.
 * @param element - the element to name in an error, e.g. `client/force_reconnect_interval`.
 * @returns milliseconds.
 * @throws {@link ConfigError} naming `element` and the text when it is not a valid time string.
 */
export function parseWazuhTime(text: string, element: string): number {
  const m = WAZUH_TIME_RE.exec(typeof text === 'string' ? text.trim() : '');
  const ms = m ? Number(m[1]) * (WAZUH_UNIT_MS[m[2] ?? ''] ?? 1000) : NaN;
  if (!Number.isSafeInteger(ms)) {
    throw new ConfigError(
      `${element} must be a time: a whole number of seconds, optionally followed by s, m, h, d or w (e.g. 30m); got ${JSON.stringify(text)}`,
      { element, value: text },
    );
  }
  return ms;
}

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION_PART_RE = /(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d|w)/y;

/**
 * Parses a human duration: one or more `<number><unit>` parts with units `ms`, `s`, `m`, `h`, `d`,
 * `w`, such as `500ms`, `60s`, `1.5m`, `2h` or `1h30m`. A bare `0` is accepted; any other number needs
 * a unit, so `60` is not silently read as milliseconds.
 *
 * @param text - the duration.
 * @param element - what to name in an error (a CLI flag, an option).
 * @returns milliseconds, rounded to a whole number.
 * @throws {@link ConfigError} naming `element` and the text for anything else (empty, negative, unknown unit).
 */
export function parseDuration(text: string, element = 'duration'): number {
  const s = typeof text === 'string' ? text.trim() : '';
  if (s === '0') return 0;
  let total = 0;
  let pos = 0;
  let parts = 0;
  while (pos < s.length) {
    DURATION_PART_RE.lastIndex = pos;
    const m = DURATION_PART_RE.exec(s);
    if (!m) break;
    total += Number(m[1]) * (DURATION_UNIT_MS[m[2] ?? ''] ?? NaN);
    parts++;
    pos = DURATION_PART_RE.lastIndex;
    while (s[pos] === ' ') pos++;
  }
  const ms = Math.round(total);
  if (parts === 0 || pos !== s.length || !Number.isSafeInteger(ms)) {
    throw new ConfigError(
      `${element} must be a duration such as 500ms, 60s, 1.5m, 2h or 1h30m (units ms, s, m, h, d, w); got ${JSON.stringify(text)}`,
      { element, value: text },
    );
  }
  return ms;
}
