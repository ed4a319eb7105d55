import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ToolError } from '../../../src/index.js';
import { createWorkload, SeededRandom, workloadFactory } from '../../../src/simulator/workloads.js';
import type { WorkloadEvent } from '../../../src/simulator/workloads.js';

const now = () => Date.UTC(2026, 10, 22, 6, 21, 8);
const take = (spec: string, seed: string | number, agentName: string, n: number): WorkloadEvent[] => {
  const w = createWorkload(spec, { seed, agentName, now });
  return Array.from({ length: n }, () => w.next());
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'agentlink-workload-'));
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('SeededRandom', () => {
  test('equal seeds give equal sequences and different seeds different ones', () => {
    const a = new SeededRandom('x');
    const b = new SeededRandom('x');
    const c = new SeededRandom('y');
    const sa = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(sa);
    expect(sa.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  test('weighted picks follow the weights', () => {
    const r = new SeededRandom(1);
    const counts = [0, 0, 0];
    for (let i = 0; i < 10_000; i++) counts[r.weighted([1, 0, 3])]!++;
    expect(counts[1]).toBe(0);
    expect(counts[2]! / counts[0]!).toBeGreaterThan(2.5);
    expect(counts[2]! / counts[0]!).toBeLessThan(3.5);
  });
});

describe('workloads', () => {
  test.each(['syslog', 'fim', 'mixed'])('%s events are the same for the same seed and agent, and differ for another agent or seed', (spec) => {
    const a = take(spec, 7, 'sim-001', 200);
    expect(take(spec, 7, 'sim-001', 200)).toEqual(a);
    expect(take(spec, 7, 'sim-002', 200)).not.toEqual(a);
    expect(take(spec, 8, 'sim-001', 200)).not.toEqual(a);
  });

  test('syslog events are RFC 3164 lines on queue 1 from auth.log or syslog, with the agent as host', () => {
    const events = take('syslog', 'seed', 'web-01', 500);
    const programs = new Set<string>();
    for (const e of events) {
      expect(e.queue).toBe('1');
      expect(['/var/log/auth.log', '/var/log/syslog']).toContain(e.location);
      const m = /^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d web-01 ([A-Za-z]+)(\[\d+\])?: +\S/.exec(e.message);
      expect(m, e.message).not.toBeNull();
      programs.add(m![1]!);
      if (m![1] === 'sshd' || m![1] === 'sudo') expect(e.location).toBe('/var/log/auth.log');
      expect(e.message).not.toContain('\n');
    }
    for (const p of ['sshd', 'sudo', 'CRON', 'kernel', 'systemd']) expect(programs).toContain(p);
    expect(events.some((e) => e.message.includes('Failed password'))).toBe(true);
  });

  test('FIM events are Wazuh 4.x syscheck JSON on queue 8 with consistent old and new attributes', () => {
    const events = take('fim', 3, 'db-01', 400);
    const types = new Set<string>();
    for (const e of events) {
      expect(e.queue).toBe('8');
      expect(e.location).toBe('syscheck');
      const ev = JSON.parse(e.message) as { type: string; data: Record<string, any> };
      expect(ev.type).toBe('event');
      const d = ev.data;
      types.add(d.type);
      expect(d.path).toMatch(/^\//);
      expect(['scheduled', 'realtime', 'whodata']).toContain(d.mode);
      expect(Number.isInteger(d.timestamp)).toBe(true);
      const attrs = d.attributes;
      expect(attrs).toMatchObject({ type: 'file', uid: expect.any(String), gid: expect.any(String) });
      expect(attrs.perm).toMatch(/^[rwx-]{9}$/);
      expect(attrs.hash_md5).toMatch(/^[0-9a-f]{32}$/);
      expect(attrs.hash_sha1).toMatch(/^[0-9a-f]{40}$/);
      expect(attrs.hash_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(typeof attrs.size).toBe('number');
      expect(typeof attrs.mtime).toBe('number');
      if (d.type === 'modified') {
        expect(d.changed_attributes).toEqual(expect.arrayContaining(['md5', 'sha256']));
        expect(d.old_attributes.hash_sha256).not.toBe(attrs.hash_sha256);
        expect(d.old_attributes.inode).toBe(attrs.inode);
      } else {
        expect(d.old_attributes).toBeUndefined();
      }
    }
    expect(types).toEqual(new Set(['added', 'modified', 'deleted']));
  });

  test('a modification reports as old attributes the new attributes of the previous event on that file', () => {
    const events = take('fim', 11, 'a-1', 300).map((e) => JSON.parse(e.message).data as Record<string, any>);
    const last = new Map<string, Record<string, any>>();
    let checked = 0;
    for (const d of events) {
      const prev = last.get(d.path);
      if (d.type === 'modified' && prev && prev.type !== 'deleted') {
        expect(d.old_attributes.hash_sha256).toBe(prev.attributes.hash_sha256);
        expect(d.old_attributes.size).toBe(prev.attributes.size);
        checked++;
      }
      last.set(d.path, d);
    }
    expect(checked).toBeGreaterThan(50);
  });

  test('mixed gives mostly syslog lines and some FIM events, with custom weights too', () => {
    const mixed = take('mixed', 1, 'x-1', 2000);
    const fim = mixed.filter((e) => e.queue === '8').length;
    expect(fim).toBeGreaterThan(100);
    expect(fim).toBeLessThan(400);
    expect(take('mixed:syslog=0,fim=1', 1, 'x-1', 50).every((e) => e.queue === '8')).toBe(true);
    expect(() => workloadFactory('mixed:syslog=a')).toThrow(/mixed:syslog=9,fim=1/);
    expect(() => workloadFactory('mixed:syslog=0,fim=0')).toThrow(ToolError);
  });

  test('a JSONL file is replayed in a cycle with raw lines as queue-1 log lines', () => {
    const path = tempFile(
      'events.jsonl',
      ['{"queue":"8","location":"syscheck","message":"{\\"type\\":\\"event\\"}"}', 'Nov 22 06:21:08 h sshd[1]: hello', '', '{"location":"/var/log/app.log","message":"m3"}\r', ''].join('\n'),
    );
    const w = createWorkload(path, { seed: 1, agentName: 'a-1' });
    const seen = Array.from({ length: 6 }, () => w.next());
    const expected = [
      { queue: '8', location: 'syscheck', message: '{"type":"event"}' },
      { queue: '1', location: path, message: 'Nov 22 06:21:08 h sshd[1]: hello' },
      { queue: '1', location: '/var/log/app.log', message: 'm3' },
    ];
    const start = expected.findIndex((e) => e.message === seen[0]!.message);
    expect(start).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 6; i++) expect(seen[i]).toEqual(expected[(start + i) % 3]);
  });

  test('bad replay files are usage errors that name the file and line', () => {
    expect(() => workloadFactory('/nonexistent/agentlink.jsonl')).toThrow(/cannot read the file \(ENOENT\)/);
    expect(() => workloadFactory(tempFile('a.jsonl', 'ok line\n{"location": 5, "message": "x"}\n'))).toThrow(/line 2: "location"/);
    expect(() => workloadFactory(tempFile('b.jsonl', '{"location":"l","message":"m","queue":"12"}'))).toThrow(/line 1: "queue" must be one character/);
    expect(() => workloadFactory(tempFile('c.jsonl', '{oops'))).toThrow(/line 1: not valid JSON/);
    expect(() => workloadFactory(tempFile('d.jsonl', '\n\n'))).toThrow(/no events/);
  });
});
