/**
 * A SIGKILLed `agentlink simulate --lb haproxy` leaves no HAProxy running (the watchdog of
 * src/testing/lb/process.ts kills the balancer's process group when its Node process dies), and
 * the next run removes the temp directory the killed run could not. Linux (/proc) and a real
 * HAProxy; the simulate runs get a private TMPDIR.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { describeIfLb } from '../helpers/require-lb.js';

const work = mkdtempSync(join(tmpdir(), 'agentlink-orphan-'));
const tmp = join(work, 'tmp');
const started: ChildProcess[] = [];

/** Pids of the processes whose command line contains `text`. */
function pidsWith(text: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function runDirs(): string[] {
  return existsSync(tmp) ? readdirSync(tmp).filter((n) => n.startsWith('agentlink-haproxy-')) : [];
}

afterAll(() => {
  for (const c of started) c.kill('SIGKILL');
  for (const pid of pidsWith(tmp)) {
    try {
      process.kill(pid, 'SIGKILL'); // a balancer this test failed to see die
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

await describeIfLb('haproxy', 'agentlink simulate --lb haproxy killed with SIGKILL', () => {
  it('leaves no haproxy behind, and the next run removes the stale temp directory', async () => {
    mkdirSync(tmp, { recursive: true });
    const env = { TMPDIR: tmp };
    const child = startCli(['simulate', '--agents', '10', '--cluster', '2', '--lb', 'haproxy', '--duration', '60s', '--quiet'], { cwd: work, env });
    started.push(child);
    let output = '';
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));

    const [dirName] = await waitFor(() => (runDirs().length > 0 ? runDirs() : undefined), 30_000, 'the haproxy temp directory');
    const config = join(tmp, dirName!, 'haproxy.cfg');
    const [haproxy] = await waitFor(() => {
      const pids = pidsWith(config).filter((p) => !readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('agentlink-lb-watchdog'));
      return pids.length > 0 ? pids : undefined;
    }, 30_000, `haproxy running ${config}\n${output}`);

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    await waitFor(() => (pidsWith(config).length === 0 ? true : undefined), 5_000, `haproxy ${haproxy} to die with its parent`);
    expect(existsSync(join(tmp, dirName!)), 'the killed run could not remove its directory').toBe(true);
    expect(readFileSync(join(tmp, dirName!, 'owner.pid'), 'utf8').trim()).toBe(String(child.pid));

    const next = await runCli(['simulate', '--agents', '2', '--cluster', '1', '--lb', 'haproxy', '--duration', '1s', '--drain', '0', '--quiet'], {
      cwd: work,
      env,
      timeout: 60_000,
    });
    expect(next.code, next.stderr).toBe(0);
    expect(existsSync(join(tmp, dirName!))).toBe(false);
    expect(runDirs()).toEqual([]);
  }, 120_000);
});
