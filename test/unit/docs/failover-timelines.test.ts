/**
 * docs/failover.md's timelines are what the AgentClient does. Each table after a
 * `<!-- timeline: id -->` marker is compared with a run of scenario `id` (failover-scenarios.ts):
 * the attempts it lists ("attempt 6 on B") must be exactly the attempts made, in order, each at a
 * time inside its row's `t` (`50 s`, or a range `0–1 s`), and every event name and error code the
 * row puts in backticks must have happened inside that time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readDoc } from './markdown.js';
import { SCENARIOS, runScenario } from './failover-scenarios.js';
import type { TimelineEntry } from './failover-scenarios.js';

interface Row {
  text: string;
  from: number;
  to: number;
  attempts: string[];
  names: string[];
}

const EVENT_NAMES = new Set(['connected', 'disconnected', 'failover', 'reconnectScheduled', 'forceReconnect']);

/** Parses the timeline tables of docs/failover.md by their marker id. */
function timelines(markdown: string): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- timeline: ([\w-]+) -->$/.exec(lines[i]!.trim());
    if (!marker) continue;
    const rows: Row[] = [];
    let j = i + 1;
    for (; j < lines.length && lines[j]!.startsWith('|'); j++) {
      const cells = lines[j]!.split('|').map((c) => c.trim());
      const t = cells[1]!;
      const m = /^(\d+(?:\.\d+)?)(?:\s*–\s*(\d+(?:\.\d+)?))?\s*s$/.exec(t);
      if (!m) continue; // header and separator rows
      const from = Number(m[1]) * 1000;
      const to = m[2] === undefined ? from : Number(m[2]) * 1000;
      const text = cells.slice(2).join('|');
      const attempts = [...text.matchAll(/[Aa]ttempt (\d+) on ([ABC])\b/g)].map((a) => `${a[1]} on ${a[2]}`);
      const names = [...text.matchAll(/`([A-Za-z_]+)`/g)].map((n) => n[1]!).filter((n) => EVENT_NAMES.has(n) || n.startsWith('ERR_'));
      rows.push({ text, from, to, attempts, names });
    }
    out.set(marker[1]!, rows);
    i = j;
  }
  return out;
}

function inRow(e: TimelineEntry, row: Row): boolean {
  return e.t >= row.from && e.t <= row.to;
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

const doc = timelines(readDoc('docs/failover.md'));

describe('docs/failover.md timelines', () => {
  it('has a table for every scenario and a scenario for every table', () => {
    expect([...doc.keys()].sort()).toEqual(Object.keys(SCENARIOS).sort());
  });

  for (const [id, scenario] of Object.entries(SCENARIOS)) {
    it(`${id}: the table lists every attempt at its time, and the events it names happen then`, async () => {
      const rows = doc.get(id) ?? [];
      expect(rows.length).toBeGreaterThan(0);
      const log = await runScenario(scenario);

      const made = log.filter((e) => e.kind === 'attempt');
      const listed = rows.flatMap((row) => row.attempts.map((a) => ({ a, row })));
      expect(listed.map((l) => l.a), 'attempts in the table vs attempts made').toEqual(made.map((e) => `${e.attempt} on ${e.server}`));
      listed.forEach(({ a, row }, i) => {
        expect(inRow(made[i]!, row), `attempt ${a} at ${made[i]!.t} ms, table says ${row.from}–${row.to} ms`).toBe(true);
      });

      for (const row of rows) {
        for (const name of row.names) {
          const hit = log.some((e) => inRow(e, row) && (name.startsWith('ERR_') ? e.code === name : e.kind === name));
          expect(hit, `'${name}' at ${row.from}–${row.to} ms (${row.text.slice(0, 60)}…); log: ${JSON.stringify(log.filter((e) => inRow(e, row)))}`).toBe(true);
        }
      }
    });
  }

  it('reads every row of a table, including rows that name no attempt or event', () => {
    const rows = doc.get('wazuh-dies') ?? [];
    expect(rows.map((r) => r.from / 1000)).toEqual([0, 10, 20, 30, 40, 50]);
  });
});
