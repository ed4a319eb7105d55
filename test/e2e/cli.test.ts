/**
 * The `agentlink` command line as a user runs it (the built binary in a child process): help
 * wins over any other flag, whatever its value; a failure is one line with its code (exit 1), and
 * AGENTLINK_DEBUG=1 adds the stack.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const cwd = mkdtempSync(join(tmpdir(), 'agentlink-cli-e2e-'));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('agentlink help', () => {
  it.each([
    [['demo', '--help', '--lb', 'bogus'], /^Usage: agentlink demo /],
    [['demo', '--lb', 'bogus', '-h'], /^Usage: agentlink demo /],
    [['help', 'demo'], /^Usage: agentlink demo /],
    [['enroll', '--timeout', 'soon', '--help'], /^Usage: agentlink enroll /],
    [['simulate', '--agents', '-5', '--help'], /^Usage: agentlink simulate /],
  ])('%j prints the usage on stdout and exits 0', async (args, usage) => {
    const r = await runCli(args, { cwd, timeout: 20_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(usage);
    expect(r.stderr).toBe('');
  });
});

describe('agentlink manager on a port in use', () => {
  it('names remoted, the system code and ERR_LISTEN, exits 1, and prints the stack with AGENTLINK_DEBUG=1', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as AddressInfo).port;
      const plain = await runCli(['manager', '--port', String(port)], { cwd, timeout: 20_000 });
      expect(plain.code).toBe(1);
      expect(plain.stderr).toBe(`agentlink manager: remoted cannot listen on 127.0.0.1:${port}: the port is in use (choose another, or 0 for a free one) (EADDRINUSE) (ERR_LISTEN)\n`);
      const debug = await runCli(['manager', '--port', '0', '--authd-port', String(port)], { cwd, timeout: 20_000, env: { AGENTLINK_DEBUG: '1' } });
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(new RegExp(`^agentlink manager: authd cannot listen on 127\\.0\\.0\\.1:${port}: .* \\(EADDRINUSE\\) \\(ERR_LISTEN\\)\\n.*\\n\\s+at `));
    } finally {
      busy.close();
    }
  });
});

describe('agentlink simulate: what its messages and flags promise', () => {
  it('--agents -5 is a bad count, not a missing value', async () => {
    const r = await runCli(['simulate', '--agents', '-5', '--cluster', '1'], { cwd, timeout: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("agentlink simulate: --agents '-5' must be a whole number from 1 to 1000000, e.g. --agents 1000\n");
    expect(r.stderr).not.toMatch(/needs a value/);
  });

  it('an empty keys file says it holds no identity, not "lower --agents to 0"', async () => {
    writeFileSync(join(cwd, 'empty.keys'), '# nothing yet\n');
    const r = await runCli(['simulate', '--agents', '5', '--manager', '127.0.0.1:1514', '--keys', 'empty.keys'], { cwd, timeout: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/empty\.keys' holds no agent identity/);
    expect(r.stderr).not.toMatch(/--agents to 0/);
  });

  it('too few keys: the hint never overwrites the keys file the managers use', async () => {
    writeFileSync(join(cwd, 'two.keys'), `001 a1 any ${'a'.repeat(64)}\n002 a2 any ${'b'.repeat(64)}\n`);
    const r = await runCli(['simulate', '--agents', '5', '--manager', '127.0.0.1:1514', '--keys', 'two.keys'], { cwd, timeout: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lower --agents to 2/);
    expect(r.stderr).not.toMatch(/> two\.keys/);
    expect(r.stderr).toMatch(/-o /);
  });

  it('--report - writes the JSON report to standard output and the summary table to standard error', async () => {
    const r = await runCli(['simulate', '--agents', '3', '--cluster', '1', '--duration', '1s', '--drain', '0', '--quiet', '--report', '-'], { cwd, timeout: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { agents: { total: number } };
    expect(report.agents.total).toBe(3);
    expect(r.stderr).toMatch(/agents/);
    expect(existsSync(join(cwd, '-'))).toBe(false);
  });
});
