/**
 * `--start-at`: the time is parsed strictly (a zone, not in the past, not a day ahead), and the wait
 * ends exactly at the planned time on the run's clock (fake timers), or early when interrupted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../src/index.js';
import { parseSimulateArgs } from '../../../src/simulator/flags.js';
import { MAX_START_AHEAD_MS, START_AT_TOLERANCE_MS, formatDistance, parseStartAt, waitUntil } from '../../../src/simulator/start-at.js';

const NOW = Date.UTC(2026, 11, 6, 17, 0, 0);

describe('parseStartAt', () => {
  it('takes an ISO 8601 time with Z or an offset, and +DURATION from now', () => {
    expect(parseStartAt('2026-12-06T17:05:00Z', NOW)).toBe(NOW + 300_000);
    expect(parseStartAt('2026-12-06T18:05:00+01:00', NOW)).toBe(NOW + 300_000);
    expect(parseStartAt('2026-12-06T17:00:30.250Z', NOW)).toBe(NOW + 30_250);
    expect(parseStartAt('+30s', NOW)).toBe(NOW + 30_000);
    expect(parseStartAt('+1h30m', NOW)).toBe(NOW + 5_400_000);
    expect(parseStartAt('+0s', NOW)).toBe(NOW);
  });

  it('accepts a time just past, within the tolerance for clocks that differ a little', () => {
    expect(parseStartAt(new Date(NOW - START_AT_TOLERANCE_MS).toISOString(), NOW)).toBe(NOW - START_AT_TOLERANCE_MS);
  });

  it('refuses a time in the past, saying by how much', () => {
    expect(() => parseStartAt('2026-12-06T16:59:58Z', NOW)).toThrow(/--start-at 2026-12-06T16:59:58\.000Z is 2 s in the past/);
    expect(() => parseStartAt('2026-12-06T15:55:00Z', NOW)).toThrow(/is 1 h 5 min in the past/);
    expect(() => parseStartAt('2026-12-06T16:00:00Z', NOW)).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
  });

  it('refuses a time more than a day ahead', () => {
    expect(parseStartAt(new Date(NOW + MAX_START_AHEAD_MS).toISOString(), NOW)).toBe(NOW + MAX_START_AHEAD_MS);
    expect(() => parseStartAt('+25h', NOW)).toThrow(/is 25 h ahead, more than the 24 h allowed/);
  });

  it('refuses a time without its zone, a date that does not exist, and anything else', () => {
    expect(() => parseStartAt('2026-12-06T18:00:00', NOW)).toThrow(/must be an ISO 8601 time with its zone/);
    expect(() => parseStartAt('2026-12-06 18:00', NOW)).toThrow(/must be an ISO 8601 time with its zone/);
    expect(() => parseStartAt('2026-02-30T10:00:00Z', NOW + 0)).toThrow(/not a valid date and time/);
    expect(() => parseStartAt('2026-12-06T25:00:00Z', NOW)).toThrow(/not a valid date and time/);
    expect(() => parseStartAt('+soon', NOW)).toThrow(/--start-at 'soon' is not a duration/);
    expect(() => parseStartAt('tomorrow', NOW)).toThrow(/ISO 8601/);
  });

  it('formats distances as people read them', () => {
    expect([850, 12_345, 250_000, 3_900_000, 7_200_000].map(formatDistance)).toEqual(['850 ms', '12.3 s', '4 min 10 s', '1 h 5 min', '2 h']);
  });
});

describe('simulate --start-at', () => {
  it('is parsed against the given now, into the configuration', () => {
    const c = parseSimulateArgs(['--agents', '2', '--cluster', '1', '--start-at', '+2s'], { now: NOW });
    expect(c.startAt).toBe(NOW + 2000);
    expect(c.given).toContain('startAt');
    expect(() => parseSimulateArgs(['--agents', '2', '--cluster', '1', '--start-at', '2026-12-06T16:00:00Z'], { now: NOW })).toThrow(/1 h in the past/);
  });
});

describe('waitUntil', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves at the planned time, not a millisecond before', async () => {
    let done: boolean | undefined;
    void waitUntil(NOW + 90_500, systemClock, undefined).then((r) => (done = r));
    await vi.advanceTimersByTimeAsync(90_499);
    expect(done).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(Date.now()).toBe(NOW + 90_500);
  });

  it('follows the wall clock when it is stepped during a long wait (reads it again at least every minute)', async () => {
    let done: boolean | undefined;
    void waitUntil(NOW + 10 * 60_000, systemClock, undefined).then((r) => (done = r));
    await vi.advanceTimersByTimeAsync(60_000);
    // NTP steps the clock 5 minutes forward: the wait ends about 4 minutes later, not 9
    vi.setSystemTime(Date.now() + 5 * 60_000);
    await vi.advanceTimersByTimeAsync(4 * 60_000 - 1);
    expect(done).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it('returns at once for a time already past', async () => {
    await expect(waitUntil(NOW - 500, systemClock, undefined)).resolves.toBe(true);
  });

  it('ends early, with false, when the signal aborts; no timer is left behind', async () => {
    const ac = new AbortController();
    let done: boolean | undefined;
    void waitUntil(NOW + 3_600_000, systemClock, ac.signal).then((r) => (done = r));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(done).toBeUndefined();
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await expect(waitUntil(NOW + 1000, systemClock, ac.signal)).resolves.toBe(false);
  });
});

describe('scenario startAt', () => {
  it('is the field of --start-at, and the command line overrides it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentlink-start-at-'));
    try {
      writeFileSync(join(dir, 's.yaml'), 'agents: 2\ntarget: { cluster: 1 }\nstartAt: 2026-12-06T17:01:00Z\n');
      expect(parseSimulateArgs(['--scenario', 's.yaml'], { cwd: dir, now: NOW }).startAt).toBe(NOW + 60_000);
      expect(parseSimulateArgs(['--scenario', 's.yaml', '--start-at', '+5s'], { cwd: dir, now: NOW }).startAt).toBe(NOW + 5_000);
      writeFileSync(join(dir, 'past.yaml'), 'agents: 2\ntarget: { cluster: 1 }\nstartAt: 2026-12-06T16:00:00Z\n');
      expect(() => parseSimulateArgs(['--scenario', 'past.yaml'], { cwd: dir, now: NOW })).toThrow(/past\.yaml' line 3, field 'startAt': --start-at .* is 1 h in the past/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
