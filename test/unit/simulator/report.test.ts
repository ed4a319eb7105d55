import { describe, expect, test } from 'vitest';
import { ToolError } from '../../../src/index.js';
import { agentlinkVersion, createReport, mergeReports, parseReport, REPORT_FORMAT, stringifyReport } from '../../../src/simulator/report.js';
import type { FleetReport, ReportInput } from '../../../src/simulator/report.js';
import { parseSimulateArgs } from '../../../src/simulator/flags.js';
import { activities, runMetrics } from './fixtures.js';
import type { AgentActivity } from './fixtures.js';

const config = { agents: 101, cluster: 3, durationMs: 5000 };

function reportOf(agents: readonly AgentActivity[], shard: { index: number; count: number }, extra: Partial<ReportInput> = {}): FleetReport {
  const distribution: Record<string, number> = {};
  for (const a of agents) {
    const node = a.failovers.length > 0 ? 'node9' : a.node;
    distribution[node] = (distribution[node] ?? 0) + 1;
  }
  return createReport({
    metrics: runMetrics(agents),
    startedAt: Date.UTC(2026, 0, 1, 12, 0, 0) + shard.index * 250,
    durationMs: 5000 + shard.index,
    config,
    shard,
    agents: { total: agents.length, connected: agents.length },
    distribution,
    lostExplained: { inFlightOnKilledConnections: agents.filter((a) => a.failovers.length > 0).length },
    chaos: [
      { at: 2000, action: 'kill', node: 'node1' },
      { at: 4000, action: 'restart', node: 'node1' },
    ],
    ...extra,
  });
}

/** The fields a merged report must share with the report of one run over the same agents. */
function comparable(r: FleetReport) {
  return {
    agents: r.agents,
    events: r.events,
    connect: r.connect,
    tcpConnect: r.tcpConnect,
    failover: r.failover,
    reconnects: r.reconnects,
    connectFailures: r.connectFailures,
    distribution: r.distribution,
    timeline: r.timeline,
    lostExplained: r.lostExplained,
    chaos: r.chaos,
  };
}

describe('createReport', () => {
  test('a report written before ackLatency was measured still parses and merges (no ACK latencies)', () => {
    const r = JSON.parse(stringifyReport(reportOf(activities(4), { index: 1, count: 2 }))) as FleetReport;
    const old = JSON.parse(JSON.stringify(r)) as { histograms: Record<string, unknown>; ackLatency?: unknown };
    delete old.histograms.ackLatency;
    delete old.ackLatency;
    const parsed = parseReport(old, 'old.json');
    const merged = mergeReports([parsed, { ...r, shard: { index: 2, count: 2 }, shards: [2] }]);
    expect(merged.ackLatency.count).toBe(r.ackLatency.count);
  });

  test('a report carries the required fields, percentiles from the histograms and the lost-event causes', () => {
    const agents = activities(30);
    const r = reportOf(agents, { index: 1, count: 1 });
    expect(r.format).toBe(REPORT_FORMAT);
    expect(r.version).toBe(agentlinkVersion());
    expect(r.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.agents).toEqual({ total: 30, connected: 30, neverConnected: 0 });
    const written = agents.reduce((n, a) => n + a.sentPerSecond, 0) * 5;
    const received = agents.reduce((n, a) => n + a.receivedPerSecond, 0) * 5;
    const refused = 30 % 7;
    expect(r.events).toEqual({
      generated: written + refused,
      accepted: written,
      written,
      dropped: refused,
      droppedBy: { refused, evicted: 0, cleared: 0, unwritable: 0 },
      received,
      lost: written - received,
    });
    expect(Object.keys(r.timeline[0]!).sort()).toEqual(['accepted', 'connected', 'dropped', 'generated', 'perNode', 'received', 'reconnecting', 't', 'written']);
    expect(r.timeline.reduce((n, p) => n + p.written, 0)).toBe(written);
    expect(r.connect.count).toBe(30);
    expect(r.connect.p50Ms).toBeGreaterThan(0);
    expect(r.connect.p99Ms).toBeGreaterThanOrEqual(r.connect.p50Ms);
    expect(r.failover.count).toBe(agents.filter((a) => a.failovers.length > 0).length);
    expect(r.reconnects.total).toBe(r.failover.count);
    expect(r.timeline).toHaveLength(5);
    expect(r.timelineBucketMs).toBe(1000);
    expect(r.lostExplained.inFlightOnKilledConnections).toBe(8);
    expect(r.lostExplained.unexplained).toBe(written - received - 8);
    expect(r.shard).toEqual({ index: 1, count: 1 });
    expect(r.shards).toEqual([1]);
    expect(r.config).toEqual(config);
    expect(r.startedAt).toBe('2026-01-01T12:00:00.250Z');
    expect(typeof r.histograms.failover).toBe('string');
    expect(r.histograms.unit).toBe('us');
  });

  test('the parsed simulate flags are accepted as the config and stored as plain JSON', () => {
    const flags = parseSimulateArgs(['--agents', '5', '--cluster', '2', '--chaos', 'kill:node1@10s', '--report', 'out.json']);
    const r = reportOf(activities(5), { index: 1, count: 1 }, { config: flags });
    expect(r.config).toEqual(JSON.parse(JSON.stringify(flags)));
    expect(r.config).not.toBe(flags);
    expect(r.config.reportPath).toBe('out.json');
  });

  test('received and lost are null when the managers are not ours', () => {
    const r = reportOf(activities(5), { index: 1, count: 1 }, { receivedKnown: false });
    expect(r.events.received).toBeNull();
    expect(r.events.lost).toBeNull();
    expect(r.lostExplained.unexplained).toBe(0);
  });

  test('a report survives a JSON round trip through parseReport', () => {
    const r = reportOf(activities(12), { index: 1, count: 1 });
    expect(parseReport(JSON.parse(stringifyReport(r)), 'out.json')).toEqual(r);
  });
});

describe('mergeReports', () => {
  test('merging two shard reports gives the report of one run over all their agents', () => {
    const agents = activities(101);
    const whole = reportOf(agents, { index: 1, count: 1 });
    const a = reportOf(agents.filter((_, i) => i % 2 === 0), { index: 1, count: 2 });
    const b = reportOf(agents.filter((_, i) => i % 2 === 1), { index: 2, count: 2 });
    const merged = mergeReports([a, b], ['a.json', 'b.json']);
    expect(comparable(merged)).toEqual(comparable(whole));
    expect(merged.failover.count).toBeGreaterThan(0);
    expect(merged.distribution.node9).toBe(agents.filter((x) => x.failovers.length > 0).length);
    expect(merged.shards).toEqual([1, 2]);
    expect(merged.shard).toEqual({ index: 1, count: 2 });
    expect(merged.startedAt).toBe(a.startedAt);
    expect(merged.durationMs).toBe(5002);
  });

  test('a merged report says how far apart its shards really started (startSkewMs), also when merged reports merge again', () => {
    const agents = activities(30);
    const at = (ms: number): Partial<ReportInput> => ({ startedAt: Date.UTC(2026, 11, 6, 17) + ms, plannedStartAt: Date.UTC(2026, 11, 6, 17) });
    const a = reportOf(agents.slice(0, 10), { index: 1, count: 3 }, at(12));
    const b = reportOf(agents.slice(10, 20), { index: 2, count: 3 }, at(340));
    const c = reportOf(agents.slice(20), { index: 3, count: 3 }, at(3));
    expect(a.plannedStartAt).toBe('2026-12-06T17:00:00.000Z');
    expect(a.startedAt).toBe('2026-12-06T17:00:00.012Z');
    expect(a.startSkewMs).toBe(0);
    const merged = mergeReports([a, b, c]);
    expect(merged.startSkewMs).toBe(337);
    expect(merged.startedAt).toBe('2026-12-06T17:00:00.003Z');
    expect(merged.plannedStartAt).toBe('2026-12-06T17:00:00.000Z');
    expect(merged.warnings.filter((w) => /startSkewMs/.test(w))).toEqual([]);
    expect(mergeReports([mergeReports([a, c]), b]).startSkewMs).toBe(337);
    expect(mergeReports([mergeReports([a, b]), c]).startSkewMs).toBe(337);
    expect(parseReport(JSON.parse(stringifyReport(merged)), 'fleet.json')).toEqual(merged);
  });

  test('a report built by hand without a valid start time still merges (its start is left out of the skew)', () => {
    const agents = activities(8);
    const a = reportOf(agents.slice(0, 4), { index: 1, count: 2 }, { startedAt: Date.UTC(2026, 11, 6, 17) });
    const b = { ...reportOf(agents.slice(4), { index: 2, count: 2 }), startedAt: 'soon' };
    expect(mergeReports([a, b])).toMatchObject({ startedAt: a.startedAt, startSkewMs: 0 });
    expect(mergeReports([b, { ...b, shard: { index: 1, count: 2 }, shards: [1] }])).toMatchObject({ startedAt: 'soon', startSkewMs: 0 });
  });

  test('shards that started more than a second apart get a warning, once, however often they merge', () => {
    const agents = activities(20);
    const a = reportOf(agents.slice(0, 10), { index: 1, count: 3 }, { startedAt: Date.UTC(2026, 11, 6, 17) });
    const b = reportOf(agents.slice(10, 15), { index: 2, count: 3 }, { startedAt: Date.UTC(2026, 11, 6, 17) + 1800 });
    const c = reportOf(agents.slice(15), { index: 3, count: 3 }, { startedAt: Date.UTC(2026, 11, 6, 17) + 2500 });
    const ab = mergeReports([a, b]);
    expect(ab.startSkewMs).toBe(1800);
    expect(ab.plannedStartAt).toBeUndefined();
    expect(ab.warnings.filter((w) => /startSkewMs/.test(w))).toEqual([
      expect.stringMatching(/^the shards started 1\.8 s apart \(startSkewMs\).*--start-at/),
    ]);
    const all = mergeReports([ab, c]);
    expect(all.startSkewMs).toBe(2500);
    expect(all.warnings.filter((w) => /startSkewMs/.test(w))).toEqual([expect.stringMatching(/^the shards started 2\.5 s apart/)]);
  });

  test('merge order does not change the result', () => {
    const agents = activities(40);
    const a = reportOf(agents.slice(0, 13), { index: 1, count: 3 });
    const b = reportOf(agents.slice(13, 30), { index: 2, count: 3 });
    const c = reportOf(agents.slice(30), { index: 3, count: 3 });
    expect(comparable(mergeReports([c, a, b]))).toEqual(comparable(mergeReports([a, b, c])));
    expect(comparable(mergeReports([mergeReports([a, b]), c]))).toEqual(comparable(mergeReports([a, b, c])));
  });

  test('received stays unknown when one shard could not count it', () => {
    const agents = activities(10);
    const merged = mergeReports([
      reportOf(agents.slice(0, 5), { index: 1, count: 2 }),
      reportOf(agents.slice(5), { index: 2, count: 2 }, { receivedKnown: false }),
    ]);
    expect(merged.events.received).toBeNull();
    expect(merged.events.lost).toBeNull();
  });

  test('system limits hit in several shards are summed by limit', () => {
    const agents = activities(4);
    const hit = { limit: 'open-files', count: 3, message: 'raise ulimit -n' };
    const merged = mergeReports([
      reportOf(agents.slice(0, 2), { index: 1, count: 2 }, { limits: [hit] }),
      reportOf(agents.slice(2), { index: 2, count: 2 }, { limits: [{ ...hit, count: 4 }] }),
    ]);
    expect(merged.limits.hit).toEqual([{ ...hit, count: 7 }]);
  });

  test('reports of different runs, of different targets, or one unsharded run twice do not merge', () => {
    const agents = activities(4);
    const a = reportOf(agents.slice(0, 2), { index: 1, count: 2 }, { runId: 'run-1' });
    const b = reportOf(agents.slice(2), { index: 2, count: 2 }, { runId: 'run-2' });
    expect(() => mergeReports([a, b], ['a.json', 'b.json'])).toThrow(/^b\.json is from run run-2 but a\.json is from run run-1: merge the shards of one run \(start every shard with the same --run-id\)$/);
    expect(mergeReports([a, { ...b, runId: 'run-1' }]).runId).toBe('run-1');
    // reports written before run ids existed merge as before
    expect(mergeReports([{ ...a, runId: '' }, b]).shards).toEqual([1, 2]);
    const elsewhere = { ...b, runId: 'run-1', config: { ...b.config, target: { kind: 'managers', servers: [{ host: 'm2', port: 1514 }] } } };
    const here = { ...a, config: { ...a.config, target: { kind: 'managers', servers: [{ host: 'm1', port: 1514 }] } } };
    expect(() => mergeReports([here, elsewhere], ['a.json', 'b.json'])).toThrow(/^b\.json ran against .*"m2".* but a\.json against .*"m1".*: merge shards that share one target$/);
    const whole = reportOf(agents, { index: 1, count: 1 });
    expect(() => mergeReports([whole, whole], ['x.json', 'y.json'])).toThrow(/shard 1\/1 is in both x\.json and y\.json/);
  });

  test('the same shard twice, or shards of different splits, do not merge', () => {
    const agents = activities(4);
    const a = reportOf(agents, { index: 1, count: 2 });
    expect(() => mergeReports([a, a], ['a.json', 'b.json'])).toThrow(/shard 1\/2 is in both a\.json and b\.json/);
    expect(() => mergeReports([a, reportOf(agents, { index: 1, count: 3 })], ['a.json', 'c.json'])).toThrow(ToolError);
    expect(() => mergeReports([])).toThrow(/nothing to merge/);
  });
});

describe('parseReport', () => {
  test('JSON that is not a report is a usage error naming the file and the field', () => {
    const good = JSON.parse(stringifyReport(reportOf(activities(3), { index: 1, count: 1 }))) as Record<string, unknown>;
    expect(() => parseReport([], 'x.json')).toThrow(/x\.json is not an agentlink fleet report/);
    expect(() => parseReport({ ...good, format: 'other' }, 'x.json')).toThrow(/format/);
    expect(() => parseReport({ ...good, events: { ...(good.events as object), written: 'many' } }, 'x.json')).toThrow(/events\.written is missing or not a non-negative number/);
    expect(() => parseReport({ ...good, events: { ...(good.events as object), droppedBy: { refused: 1 } } }, 'x.json')).toThrow(/events\.droppedBy\.evicted/);
    expect(() => parseReport({ ...good, timeline: [{ t: 0 }] }, 'x.json')).toThrow(/timeline\[0\]/);
    expect(() => parseReport({ ...good, histograms: { ...(good.histograms as object), failover: 'garbage' } }, 'x.json')).toThrow(
      /histograms\.failover in x\.json/,
    );
    try {
      parseReport({}, 'x.json');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ToolError);
      expect((err as ToolError).code).toBe('ERR_USAGE');
    }
  });
});
