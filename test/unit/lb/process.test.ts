import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createRunDir } from '../../../src/testing/lb/process.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** The pid of a process that has exited (the kernel does not reuse it within the test). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

describe('createRunDir', () => {
  it("removes the run directories of dead owners, keeps live owners' and unowned ones, and records its own owner", async () => {
    const root = mkdtempSync(join(tmpdir(), 'agentlink-rundir-test-'));
    roots.push(root);
    const dir = (name: string, owner?: number): string => {
      const p = join(root, name);
      mkdirSync(p);
      writeFileSync(join(p, 'haproxy.cfg'), 'global\n');
      if (owner !== undefined) writeFileSync(join(p, 'owner.pid'), `${owner}\n`);
      return p;
    };
    const stale = dir('agentlink-haproxy-stale1', await deadPid());
    const live = dir('agentlink-haproxy-live12', process.pid);
    const unowned = dir('agentlink-haproxy-new123');
    const otherKind = dir('agentlink-nginx-stale2', await deadPid());

    const created = await createRunDir('agentlink-haproxy-', root);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(unowned)).toBe(true);
    expect(existsSync(otherKind)).toBe(true);
    expect(created.startsWith(join(root, 'agentlink-haproxy-'))).toBe(true);
    expect(readFileSync(join(created, 'owner.pid'), 'utf8')).toBe(`${process.pid}\n`);
  });
});
