/**
 * The run guard (fail fast on no connection by the deadline, `--abort-on-fail`), the one-line reason
 * when no agent connected, and errors by code in the summary.
 */
import { describe, expect, test } from 'vitest';
import type { FleetProgress, FleetTotals } from '../../../src/simulator/fleet-types.js';
import { FleetMetrics } from '../../../src/simulator/metrics.js';
import { renderSummaryTable } from '../../../src/simulator/progress.js';
import { createReport } from '../../../src/simulator/report.js';
import { parseThreshold } from '../../../src/simulator/thresholds.js';
import { RunGuard, connectDeadline, formatErrorCounts, noConnectionProblem } from '../../../src/simulator/verdicts.js';

function progress(over: Partial<FleetProgress> = {}): FleetProgress {
  return { agents: 10, started: 10, connected: 0, reconnecting: 10, perNode: {}, connectedEver: 0, eventsSent: 0, eventsDropped: 0, errors: {}, ...over };
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
