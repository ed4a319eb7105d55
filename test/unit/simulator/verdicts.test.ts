/**
 * The run guard (fail fast on no connection by the deadline, `--abort-on-fail`), the one-line reason
 * when no agent connected, and errors by code in the summary.
 */
import { describe, expect, test } from 'vitest';
import type { FleetProgress, FleetTotals } from '../../../src/simulator/fleet-types.js';
import { FleetMetrics, emptyEventCounts } from '../../../src/simulator/metrics.js';
import { renderSummaryTable } from '../../../src/simulator/progress.js';
import { createReport, mergeReports } from '../../../src/simulator/report.js';
import { parseThreshold } from '../../../src/simulator/thresholds.js';
import { RunGuard, clampEps, connectDeadline, dropWarning, formatErrorCounts, noConnectionProblem } from '../../../src/simulator/verdicts.js';

function progress(over: Partial<FleetProgress> = {}): FleetProgress {
  return { agents: 10, started: 10, connected: 0, reconnecting: 10, perNode: {}, connectedEver: 0, ...emptyEventCounts(), errors: {}, ...over };
}

const NONE = { thresholds: [], abortOnFail: false };

describe('RunGuard', () => {
  test('ends the run at the connect deadline when no agent has connected, not before', () => {
    const g = new RunGuard(NONE, 15_000);
    g.observe(progress(), null, 14_999);
    expect(g.signal.aborted).toBe(false);
    g.observe(progress(), null, 15_000);
    expect(g.signal.aborted).toBe(true);
    expect(g.failedFastAfterMs).toBe(15_000);
  });

  test('one connected agent, or a deadline of 0, lets the run go on', () => {
    const g = new RunGuard(NONE, 15_000);
    g.observe(progress({ connectedEver: 1, connected: 0 }), null, 60_000);
    expect(g.signal.aborted).toBe(false);
    const never = new RunGuard(NONE, 0);
    never.observe(progress(), null, 3_600_000);
    expect(never.signal.aborted).toBe(false);
  });

  test('--abort-on-fail ends the run on a live threshold past its bound, and records which and when', () => {
    const g = new RunGuard({ thresholds: [parseThreshold('events.dropped==0')], abortOnFail: true }, 0);
    g.observe(progress({ connectedEver: 10, eventsDropped: 0 }), null, 1000);
    expect(g.signal.aborted).toBe(false);
    g.observe(progress({ connectedEver: 10, eventsDropped: 3 }), null, 2040.4);
    expect(g.signal.aborted).toBe(true);
    expect(g.aborted).toEqual({ threshold: 'events.dropped==0', atMs: 2040 });
    const off = new RunGuard({ thresholds: [parseThreshold('events.dropped==0')], abortOnFail: false }, 0);
    off.observe(progress({ connectedEver: 10, eventsDropped: 3 }), null, 1000);
    expect(off.signal.aborted).toBe(false);
  });

  test("the user's signal ends the run too", () => {
    const user = new AbortController();
    const g = new RunGuard(NONE, 0, user.signal);
    user.abort();
    expect(g.signal.aborted).toBe(true);
    expect(g.aborted).toBeUndefined();
    expect(g.failedFastAfterMs).toBeUndefined();
  });

  test('the deadline waits for the delay after enrollment when the agents enroll', () => {
    expect(connectDeadline(15_000, undefined, 20_000)).toBe(15_000);
    expect(connectDeadline(15_000, { enabled: true }, 20_000)).toBe(35_000);
    expect(connectDeadline(15_000, { enabled: true, delayAfterEnrollment: 1000 }, 20_000)).toBe(16_000);
    expect(connectDeadline(0, { enabled: true }, 20_000)).toBe(0);
  });
});

describe('errors by code', () => {
  test('most frequent first, then by name, limited with a remainder', () => {
    expect(formatErrorCounts({ ERR_SERVER_SILENT: 3, ERR_CONNECT: 120, ERR_A: 3, ERR_ZERO: 0 })).toBe('ERR_CONNECT 120, ERR_A 3, ERR_SERVER_SILENT 3');
    expect(formatErrorCounts({ ERR_SERVER_SILENT: 3, ERR_CONNECT: 120, ERR_A: 3 }, 1)).toBe('ERR_CONNECT 120, +2 more');
    expect(formatErrorCounts({})).toBe('');
  });

  test('the no-connection line names the most common reasons with counts and an example', () => {
    const totals = {
      agents: 20,
      neverConnectedReasons: { ERR_CONNECT: 15, ERR_HANDSHAKE_REJECTED: 4, ERR_NOT_STARTED: 1 },
      errorSamples: { ERR_CONNECT: "Unable to connect to '[10.0.0.1]:1514/tcp': connect ECONNREFUSED (ECONNREFUSED)" },
    } as unknown as FleetTotals;
    expect(noConnectionProblem(totals, { text: '15s', deadline: true }, ['10.0.0.1:1514'])).toBe(
      "no agent connected within --connect-deadline 15s (the run was stopped): 15 of 20 failed with ERR_CONNECT (Unable to connect to '[10.0.0.1]:1514/tcp': connect ECONNREFUSED (ECONNREFUSED)), 4 with ERR_HANDSHAKE_REJECTED, 1 with ERR_NOT_STARTED; check that the managers at 10.0.0.1:1514 are reachable and know the agent keys",
    );
    const enroll = { agents: 2, neverConnectedReasons: { ERR_ENROLLMENT_REJECTED: 2 }, errorSamples: {} } as unknown as FleetTotals;
    expect(noConnectionProblem(enroll, { text: '1500ms', deadline: false }, [])).toBe(
      "no agent connected within 1500ms: 2 of 2 failed with ERR_ENROLLMENT_REJECTED; check --enroll, --password-file and --groups against the manager's authd",
    );
  });

  test('the summary has a row of errors by code; the report carries them sorted', () => {
    const r = createReport({ metrics: new FleetMetrics(), startedAt: 0, durationMs: 1000, config: {}, agents: { total: 1, connected: 1 }, distribution: {}, errors: { ERR_SERVER_SILENT: 3, ERR_CONNECT: 120 } });
    expect(Object.entries(r.errors)).toEqual([
      ['ERR_CONNECT', 120],
      ['ERR_SERVER_SILENT', 3],
    ]);
    expect(renderSummaryTable(r)).toMatch(/│ errors +│ ERR_CONNECT 120, ERR_SERVER_SILENT 3 +│/);
    const quiet = createReport({ metrics: new FleetMetrics(), startedAt: 0, durationMs: 1000, config: {}, agents: { total: 1, connected: 1 }, distribution: {} });
    expect(renderSummaryTable(quiet)).not.toContain('errors');
  });
});

describe('loud drops', () => {
  test('--eps above the client buffer rate is clamped to it with a warning; a disabled buffer has no limit', () => {
    expect(clampEps(500, undefined)).toEqual({ eps: 500 });
    const c = clampEps(1200, undefined);
    expect(c.eps).toBe(500);
    expect(c.warning).toBe(
      '--eps 1200 is above the 500 events/s per agent the client buffer lets out (<client_buffer> events_per_second): clamped to 500, or every second would drop 700 events per agent',
    );
    expect(clampEps(100, { eventsPerSecond: 80 }).eps).toBe(80);
    // Wazuh raises events_per_second below 50 to 50
    expect(clampEps(100, { eventsPerSecond: 20 }).eps).toBe(50);
    expect(clampEps(100_000, { disabled: true })).toEqual({ eps: 100_000 });
  });

  test('a run that dropped 1 % of its events or more gets a warning, in capitals when most were dropped', () => {
    expect(dropWarning({ generated: 0, dropped: 0 })).toBeUndefined();
    expect(dropWarning({ generated: 1000, dropped: 9 })).toBeUndefined();
    expect(dropWarning({ generated: 1000, dropped: 10 })).toMatch(/^1 % of the events generated \(10 of 1000\) were dropped by the agents' client buffers/);
    expect(dropWarning({ generated: 60_000, dropped: 59_940 })).toMatch(/^MOST EVENTS WERE DROPPED: 99\.9 % of the events generated \(59940 of 60000\)/);
  });

  test('the report carries the warnings; merged reports recompute the drop warning from the summed counts', () => {
    const shard = (dropped: number, index: number) => {
      const m = new FleetMetrics();
      m.countEvents({ eventsGenerated: 1000, eventsAccepted: 1000, eventsWritten: 1000 - dropped, eventsCleared: dropped, eventsDropped: dropped });
      return createReport({ metrics: m, startedAt: 0, durationMs: 1000, config: {}, shard: { index, count: 2 }, agents: { total: 1, connected: 1 }, distribution: {}, warnings: ['--eps 1200 is above ...'] });
    };
    const a = shard(900, 1);
    expect(a.warnings).toEqual([dropWarning({ generated: 1000, dropped: 900 }), '--eps 1200 is above ...']);
    const merged = mergeReports([a, shard(0, 2)]);
    expect(merged.warnings).toEqual([dropWarning({ generated: 2000, dropped: 900 }), '--eps 1200 is above ...']);
    expect(renderSummaryTable(a)).not.toContain('WARNING');
  });
});
