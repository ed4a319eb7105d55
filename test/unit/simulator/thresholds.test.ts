/**
 * `--threshold` expressions: parsing (with typed errors naming the expression and the column), the
 * field lookup over the report (any field by name, any percentile from the histograms), units and
 * percentages of the natural total, and which thresholds `--abort-on-fail` can judge live.
 */
import { describe, expect, test } from 'vitest';
import { ToolError } from '../../../src/index.js';
import { FleetMetrics, LatencyHistogram } from '../../../src/simulator/metrics.js';
import { createReport } from '../../../src/simulator/report.js';
import type { FleetReport } from '../../../src/simulator/report.js';
import {
  ThresholdError,
  failedLive,
  judgeThreshold,
  judgeThresholds,
  judgeableLive,
  parseThreshold,
  renderVerdictTable,
  thresholdFields,
} from '../../../src/simulator/thresholds.js';
import { manualClock } from './fixtures.js';

/** 1000 agents, 996 connected; connect latencies 1..1000 ms; 10 000 events generated, 30 refused (dropped), 9 970 accepted and written, 9 940 received, 30 lost. */
function sample(): FleetReport {
  const m = new FleetMetrics({ clock: manualClock(), bucketMs: 1000 });
  for (let i = 1; i <= 1000; i++) m.recordConnect(i);
  for (let i = 0; i < 20; i++) m.recordReconnect(1500 + i * 10, true);
  m.countEvents({ eventsGenerated: 10_000, eventsAccepted: 9_970, eventsWritten: 9_970, eventsRefused: 30, eventsDropped: 30 });
  m.countReceived(9_940);
  m.countLost(30);
  m.countConnectFailure(7);
  return createReport({ metrics: m, startedAt: 0, durationMs: 5000, config: {}, agents: { total: 1000, connected: 996, neverConnected: 4 }, distribution: { node1: 500, node2: 496 } });
}

function parseError(text: string): ThresholdError {
  try {
    parseThreshold(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ThresholdError);
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ThresholdError).code).toBe('ERR_USAGE');
    return err as ThresholdError;
  }
  throw new Error(`expected '${text}' to be refused`);
}

describe('parseThreshold', () => {
  test('reads field, comparison, value and unit; times become milliseconds', () => {
    expect(parseThreshold('failover.p99<2s')).toEqual({ expression: 'failover.p99<2s', field: 'failover.p99', op: '<', value: 2000, unit: 'ms' });
    expect(parseThreshold(' agents.connected >= 99% ')).toEqual({ expression: 'agents.connected >= 99%', field: 'agents.connected', op: '>=', value: 99, unit: '%' });
    expect(parseThreshold('events.dropped==0')).toMatchObject({ op: '==', value: 0, unit: '' });
    expect(parseThreshold('events.lost<=0.1%')).toMatchObject({ op: '<=', value: 0.1, unit: '%' });
    expect(parseThreshold('connect.p95<500ms')).toMatchObject({ field: 'connect.p95', value: 500, unit: 'ms' });
    expect(parseThreshold('connect.max<1.5m')).toMatchObject({ value: 90_000 });
    expect(parseThreshold('tcpConnect.p99.9<250us')).toMatchObject({ field: 'tcpConnect.p99.9', value: 0.25 });
    expect(parseThreshold('connect.p99!=12')).toMatchObject({ op: '!=', value: 12, unit: '' });
    // the report's keepalive-to-ACK latency, percentiles it summarises and the ones computed from its histogram
    expect(parseThreshold('ackLatency.p99<1s')).toMatchObject({ field: 'ackLatency.p99', value: 1000, unit: 'ms' });
    expect(parseThreshold('ackLatency.p95<1s')).toMatchObject({ field: 'ackLatency.p95' });
  });

  test.each([
    ['', /'': is empty/, undefined],
    ['<2s', /expected a report field at position 1/, 1],
    ['failover.p99 2s', /expected a comparison \(<, <=, >, >=, ==, !=\) after 'failover.p99' at position 14/, 14],
    ['events.dropped=0', /'=' is not a comparison \(write ==\) at position 15/, 15],
    ['failover.p99<', /expected a number after '<' at position 14/, 14],
    ['failover.p99<fast', /expected a number after '<' at position 14/, 14],
    ['failover.p99<2h', /unknown unit 'h' \(use us, ms, s, m or %\) at position 15/, 15],
    ['failover.p99<2s and more', /unexpected 'and more' at position 17/, 17],
    ['events.dropped<2s', /'events.dropped' is a count, not a time.* at position 17/, 17],
    ['failover.p99<5%', /'failover.p99' is a time: give it with a unit \(ms, s\) instead of %/, 15],
    ['connectFailures<=1%', /'connectFailures' has no natural total/, 19],
  ])('%j is refused, naming the expression and the position', (text, message, position) => {
    const err = parseError(text);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`--threshold '${text.trim()}'`);
    expect(err.position).toBe(position);
    expect(err.expression).toBe(text.trim());
    expect(err.message).not.toContain('\n');
  });

  test('an unknown field names the field and lists the known ones', () => {
    const err = parseError('failovers.p99<2s');
    expect(err.message).toContain(`'failovers.p99' is not a report field`);
    for (const f of ['agents.connected', 'events.dropped', 'events.lost', 'failover.p99', 'connect.p50', 'reconnects.total', 'connectFailures', 'distribution.NAME']) {
      expect(err.message).toContain(f);
    }
    expect(parseError('config.eps<2').message).toContain(`'config.eps' is not a report field`);
    expect(parseError('failover.p101<2s').message).toContain('percentile above 100');
    expect(parseError('agents<2').message).toContain(`'agents' is not a report field`);
  });

  test('the fields are read from the report, so a field added to it can be judged', () => {
    expect(thresholdFields()).toEqual(expect.arrayContaining(['agents.total', 'events.generated', 'events.accepted', 'events.written', 'events.droppedBy.refused', 'failover.p999', 'reconnects.max']));
    const r = sample() as FleetReport & { ackLatency?: unknown };
    const ack = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) ack.record(i * 10);
    r.ackLatency = ack.summary();
    (r.histograms as Record<string, string>).ackLatency = ack.encode();
    const t = { expression: 'ackLatency.p95<1s', field: 'ackLatency.p95', op: '<', value: 1000, unit: 'ms' } as const;
    expect(judgeThreshold(t, r)).toMatchObject({ measured: ack.percentile(95), pass: true });
    expect(judgeThreshold({ ...t, field: 'ackLatency.p99' }, r)).toMatchObject({ measured: ack.summary().p99Ms, pass: true });
  });
});

describe('judging against a report', () => {
  const r = sample();
  const judge = (text: string) => judgeThreshold(parseThreshold(text), r);

  test('percentages are of the natural total: agents.total for agents, events.generated for what the agents did, events.written for what reached the managers', () => {
    expect(judge('agents.connected>=99%')).toMatchObject({ measured: 99.6, pass: true, shown: '99.6 % (996 of 1,000)' });
    expect(judge('agents.connected>=99.7%')).toMatchObject({ pass: false });
    expect(judge('events.dropped<=0.3%')).toMatchObject({ measured: 0.3, pass: true, shown: '0.3 % (30 of 10,000)' });
    expect(judge('events.droppedBy.refused<=0.3%')).toMatchObject({ measured: 0.3, pass: true, shown: '0.3 % (30 of 10,000)' });
    expect(judge('events.accepted>=99.7%')).toMatchObject({ measured: 99.7, pass: true });
    expect(judge('events.written>=99.71%')).toMatchObject({ pass: false });
    // 30 lost of 9 970 written: 0.3009 %, more than 0.3 % (of the 10 000 generated it would be exactly 0.3 %)
    expect(judge('events.lost<=0.3%')).toMatchObject({ pass: false, shown: '0.3009 % (30 of 9,970)' });
    expect(judge('events.lost<=0.301%')).toMatchObject({ pass: true });
    expect(judge('events.received>=99.69%')).toMatchObject({ shown: '99.7 % (9,940 of 9,970)', pass: true });
  });

  test('an old field name is refused in one line naming the new one', () => {
    const err = parseError('events.sent>=1000');
    expect(err.message).toMatch(/^--threshold 'events\.sent>=1000': 'events\.sent' was renamed: write events\.generated /);
    expect(err.message).not.toContain('\n');
  });

  test('counts and times compare as measured; percentiles the summary lacks come from the histogram', () => {
    expect(judge('events.dropped==0')).toMatchObject({ measured: 30, pass: false, shown: '30' });
    expect(judge('connectFailures<10')).toMatchObject({ measured: 7, pass: true });
    expect(judge('distribution.node2>=496')).toMatchObject({ measured: 496, pass: true });
    expect(judge('distribution.node7==0')).toMatchObject({ measured: 0, pass: true });
    const p95 = judge('connect.p95<950ms');
    expect(p95.measured).toBeGreaterThanOrEqual(945);
    expect(p95.measured).toBeLessThanOrEqual(955);
    expect(p95.pass).toBe(p95.measured! < 950);
    expect(judge('connect.p99<2s')).toMatchObject({ measured: r.connect.p99Ms, pass: true });
    expect(judge('failover.max<1s')).toMatchObject({ measured: r.failover.maxMs, pass: false });
    expect(judge('reconnects.total==20')).toMatchObject({ measured: 20, pass: true });
    // a time without a unit is milliseconds; count and min name the latency's own fields
    expect(judge('connect.max<=1000')).toMatchObject({ measured: r.connect.maxMs, pass: r.connect.maxMs <= 1000 });
    expect(judge('failover.count==20')).toMatchObject({ measured: 20, pass: true, shown: '20' });
    expect(judge('connect.min>=1ms')).toMatchObject({ measured: r.connect.minMs, pass: true });
  });

  test('a value the run could not measure fails, and says so', () => {
    const unknown = { ...r, events: { ...r.events, received: null, lost: null } };
    expect(judgeThreshold(parseThreshold('events.lost<=0.1%'), unknown)).toMatchObject({ measured: null, pass: false, note: 'events.lost was not measured in this run' });
    expect(judgeThreshold(parseThreshold('events.received>=99%'), unknown)).toMatchObject({ pass: false });
  });

  test('an empty latency measures 0 with a note', () => {
    const empty = createReport({ metrics: new FleetMetrics(), startedAt: 0, durationMs: 0, config: {}, agents: { total: 1, connected: 1 }, distribution: {} });
    expect(judgeThreshold(parseThreshold('failover.p99<2s'), empty)).toMatchObject({ measured: 0, pass: true, note: 'no samples' });
  });

  test('verdicts pass only when every threshold passes and the run was not aborted; the table says which failed', () => {
    const ok = judgeThresholds([parseThreshold('events.dropped<=30'), parseThreshold('connect.p99<2s')], r);
    expect(ok.passed).toBe(true);
    const bad = judgeThresholds([parseThreshold('events.dropped<=30'), parseThreshold('agents.connected==100%')], r);
    expect(bad.passed).toBe(false);
    const table = renderVerdictTable(bad);
    expect(table).toMatch(/│ events\.dropped<=30 +│ 30 +│ pass +│/);
    expect(table).toMatch(/│ agents\.connected==100% +│ 99\.6 % \(996 of 1,000\) +│ FAIL +│/);
    expect(table).toContain('thresholds: 1 of 2 failed');
    const aborted = judgeThresholds([parseThreshold('events.dropped<=30')], r, { threshold: 'events.written<5', atMs: 1200 });
    expect(aborted.passed).toBe(false);
    expect(renderVerdictTable(aborted)).toContain('run aborted at 1.20 s because events.written<5 failed (--abort-on-fail)');
  });
});

describe('live judgement (--abort-on-fail)', () => {
  test('only upper bounds on counts that only grow can be judged during the run', () => {
    expect(judgeableLive(parseThreshold('events.dropped==0'))).toBe(true);
    for (const f of ['generated', 'accepted', 'written']) expect(judgeableLive(parseThreshold(`events.${f}<100`))).toBe(true);
    expect(judgeableLive(parseThreshold('events.received<=100'))).toBe(true);
    expect(judgeableLive(parseThreshold('events.dropped<=1%'))).toBe(false);
    expect(judgeableLive(parseThreshold('events.written>100'))).toBe(false);
    expect(judgeableLive(parseThreshold('failover.p99<2s'))).toBe(false);
    expect(judgeableLive(parseThreshold('agents.connected>=99%'))).toBe(false);
  });

  test('a live threshold fails once its count is past the bound, and not before', () => {
    const ts = [parseThreshold('failover.p99<2s'), parseThreshold('events.dropped==0'), parseThreshold('events.written<100')];
    const counts = { 'events.generated': 200, 'events.accepted': 200, 'events.written': 99, 'events.dropped': 0, 'events.received': null };
    expect(failedLive(ts, counts)).toBeUndefined();
    expect(failedLive(ts, { ...counts, 'events.written': 100 })?.expression).toBe('events.written<100');
    expect(failedLive(ts, { ...counts, 'events.dropped': 1 })?.expression).toBe('events.dropped==0');
  });
});
