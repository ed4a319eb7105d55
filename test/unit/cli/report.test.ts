import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { createReport, mergeReports, parseReport, stringifyReport } from '../../../src/simulator/index.js';
import { activities, runMetrics } from '../simulator/fixtures.js';
import { testIo } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function shardFiles(): { dir: string; files: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'agentlink-report-'));
  dirs.push(dir);
  const agents = activities(50);
  const files = [1, 2].map((index) => {
    const mine = agents.filter((_, i) => i % 2 === index - 1);
    const report = createReport({
      metrics: runMetrics(mine),
      startedAt: Date.UTC(2026, 0, 1),
      durationMs: 5000,
      config: { agents: 50 },
      shard: { index, count: 2 },
      agents: { total: mine.length, connected: mine.length },
      distribution: { node1: mine.length },
      chaos: [{ at: 2000, action: 'kill', node: 'node1' }],
    });
    const name = `shard${index}.json`;
    writeFileSync(join(dir, name), stringifyReport(report));
    return name;
  });
  return { dir, files };
}

describe('agentlink report merge', () => {
  test('merges shard files into -o and --html and prints the summary table', async () => {
    const { dir, files } = shardFiles();
    const io = testIo({ cwd: dir });
    expect(await main(['report', 'merge', ...files, '-o', 'fleet.json', '--html', 'fleet.html'], io)).toBe(0);
    const merged = parseReport(JSON.parse(readFileSync(join(dir, 'fleet.json'), 'utf8')), 'fleet.json');
    const expected = mergeReports(files.map((f) => parseReport(JSON.parse(readFileSync(join(dir, f), 'utf8')))));
    expect({ ...merged, version: '' }).toEqual({ ...expected, version: '' });
    expect(merged.agents.total).toBe(50);
    expect(merged.distribution).toEqual({ node1: 50 });
    expect(merged.shards).toEqual([1, 2]);
    const html = readFileSync(join(dir, 'fleet.html'), 'utf8');
    expect(html).toContain('<title>agentlink fleet report (merged)</title>');
    expect(io.stdout.text).toMatch(/│ agents\s+│ 50/);
    expect(io.stderr.text).toBe('');
  });

  test('without -o the merged JSON goes to stdout', async () => {
    const { dir, files } = shardFiles();
    const io = testIo({ cwd: dir });
    expect(await main(['report', 'merge', ...files], io)).toBe(0);
    expect(parseReport(JSON.parse(io.stdout.text)).agents.total).toBe(50);
  });

  test('a missing, non-JSON or non-report file, or the same shard twice, is one usage line', async () => {
    const { dir, files } = shardFiles();
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    writeFileSync(join(dir, 'other.json'), '{"hello": 1}');
    // a format 1 shard: events.sent, no accepted or written counts
    const v1 = JSON.parse(readFileSync(join(dir, files[1]!), 'utf8')) as { format: string; events: Record<string, unknown> };
    v1.format = 'agentlink-fleet-report/1';
    v1.events = { sent: v1.events.generated, received: v1.events.received, dropped: v1.events.dropped, lost: v1.events.lost };
    writeFileSync(join(dir, 'v1.json'), JSON.stringify(v1));
    const cases: [string[], RegExp][] = [
      [['missing.json'], /^agentlink report: cannot read missing\.json: ENOENT$/],
      [['bad.json'], /^agentlink report: bad\.json is not JSON/],
      [['other.json'], /^agentlink report: other\.json is not an agentlink fleet report: format/],
      [[files[0]!, files[0]!], /^agentlink report: shard 1\/2 is in both shard1\.json and shard1\.json/],
      [
        [files[0]!, 'v1.json'],
        /^agentlink report: v1\.json is an agentlink-fleet-report\/1, written by an earlier agentlink: it has no accepted or written event counts, so it cannot be merged with or judged as an agentlink-fleet-report\/2; /,
      ],
    ];
    for (const [args, message] of cases) {
      const io = testIo({ cwd: dir });
      expect(await main(['report', 'merge', ...args], io)).toBe(2);
      expect(io.stderr.lines).toHaveLength(1);
      expect(io.stderr.lines[0]).toMatch(message);
    }
  });
});
