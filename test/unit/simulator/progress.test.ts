import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { formatProgressLine, ProgressReporter, renderSummaryTable } from '../../../src/simulator/progress.js';
import type { ProgressSnapshot } from '../../../src/simulator/progress.js';
import { createReport } from '../../../src/simulator/report.js';
import { activities, runMetrics } from './fixtures.js';

class Capture extends Writable {
  chunks: string[] = [];
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  get text(): string {
    return this.chunks.join('');
  }
}

const snap = (elapsedMs: number, over: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  elapsedMs,
  durationMs: 60_000,
  agents: 300,
  connected: 290,
  reconnecting: 10,
  eventsGenerated: 1234,
  eventsAccepted: 1230,
  eventsWritten: 1210,
  eventsDropped: 4,
  eventsReceived: 1200,
  eventsPerSec: 290,
  perNode: { node2: 100, node10: 90, node1: 100 },
  ...over,
});

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('ProgressReporter', () => {
  test('without a TTY it writes one plain line per interval', () => {
    const out = new Capture(false);
    const p = new ProgressReporter({ stream: out, intervalMs: 1000 });
    p.update(snap(0));
    p.start();
    vi.advanceTimersByTime(999);
    expect(out.chunks).toHaveLength(0);
    for (let i = 1; i <= 3; i++) {
      p.update(snap(i * 1000, { eventsGenerated: i * 100, eventsAccepted: i * 100, eventsWritten: i * 90, eventsDropped: 0 }));
      vi.advanceTimersByTime(1000);
    }
    expect(out.chunks).toHaveLength(3);
    expect(out.chunks.every((c) => c.endsWith('\n') && c.indexOf('\n') === c.length - 1)).toBe(true);
    expect(out.chunks[2]).toBe('[00:03/01:00] agents=300 connected=290 reconnecting=10 generated=300 accepted=300 written=270 dropped=0 received=1200 eps=290.0 node1=100 node2=100 node10=90\n');
    expect(out.text).not.toContain('\x1b');
    p.stop();
    expect(out.chunks).toHaveLength(4);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10_000);
    expect(out.chunks).toHaveLength(4);
  });

  test('on a TTY it redraws the block in place with ANSI cursor movement', () => {
    const out = new Capture(true);
    const p = new ProgressReporter({ stream: out, intervalMs: 500 });
    p.update(snap(500));
    p.start();
    vi.advanceTimersByTime(500);
    const first = out.text;
    expect(first).not.toContain('\x1b[');
    expect(first).toContain('connected 290');
    expect(first).toContain('remaining 00:59');
    expect(first).toContain('node10 90');
    const lines = first.trimEnd().split('\n').length;
    p.update(snap(1000, { connected: 300, reconnecting: 0 }));
    vi.advanceTimersByTime(500);
    const second = out.text.slice(first.length);
    expect(second.startsWith(`\x1b[${lines}A`)).toBe(true);
    expect(second).toContain('\x1b[0J');
    expect(second).toContain('connected 300');
    p.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  test('a terminal that reports 0 columns (or none) gets the 80-column layout, not a 20-character one', () => {
    for (const columns of [0, undefined]) {
      const out = Object.assign(new Capture(true), { columns });
      const p = new ProgressReporter({ stream: out, intervalMs: 500 });
      p.update(snap(500));
      p.start();
      vi.advanceTimersByTime(500);
      p.stop();
      expect(out.text.split('\n').filter((l) => l.startsWith('nodes'))[0]).toBe('nodes  node1 100  node2 100  node10 90');
    }
  });

  test('isTTY can be forced, and nothing is written before the first update', () => {
    const out = new Capture(true);
    const p = new ProgressReporter({ stream: out, intervalMs: 100, isTTY: false });
    p.start();
    vi.advanceTimersByTime(1000);
    expect(out.text).toBe('');
    p.stop(snap(60_000));
    expect(out.text).toMatch(/^\[01:00\/01:00\] /);
  });

  test('an unknown received count and an open-ended run are shown as such', () => {
    expect(formatProgressLine(snap(3_725_000, { durationMs: 0, eventsReceived: null, perNode: {} }))).toBe(
      '[1:02:05] agents=300 connected=290 reconnecting=10 generated=1234 accepted=1230 written=1210 dropped=4 received=? eps=290.0',
    );
  });
});

describe('renderSummaryTable', () => {
  test('the summary table shows agents, events, latencies, distribution and chaos in aligned rows', () => {
    const agents = activities(30);
    const report = createReport({
      metrics: runMetrics(agents),
      startedAt: 0,
      durationMs: 5000,
      config: {},
      agents: { total: 30, connected: 29 },
      distribution: { node1: 10, node2: 19 },
      chaos: [{ at: 2000, action: 'kill', node: 'node3' }],
      lostExplained: { inFlightOnKilledConnections: 3 },
    });
    const table = renderSummaryTable(report);
    const lines = table.trimEnd().split('\n');
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
    expect(table).toMatch(/│ agents\s+│ 30\s+│/);
    expect(table).toMatch(/│ connected at end\s+│ 29 \(96\.7 %\)/);
    const e = report.events;
    expect(table).toMatch(new RegExp(`│ events generated\\s+│ ${e.generated}\\s`));
    expect(table).toMatch(new RegExp(`│ events accepted\\s+│ ${e.accepted} \\(`));
    expect(table).toMatch(new RegExp(`│ events written\\s+│ ${e.written} \\(`));
    expect(table).toMatch(new RegExp(`│ events dropped\\s+│ ${e.dropped} \\(`));
    expect(table).toMatch(new RegExp(`│ {3}refused\\s+│ ${e.droppedBy.refused}\\s`));
    expect(e.droppedBy.refused).toBeGreaterThan(0);
    expect(table).not.toMatch(/sent/);
    expect(table).toMatch(/│ failover\s+│ p50 [\d.]+ m?s {2}p99/);
    expect(table).toMatch(/│ on node2\s+│ 19/);
    expect(table).toMatch(/│ chaos at 00:02\s+│ kill node3/);
    expect(table).toMatch(/│ {3}inFlightOnKilledConnections\s+│ 3/);
  });
});
