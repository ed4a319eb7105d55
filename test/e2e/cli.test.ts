/**
 * The `agentlink` command line as a user runs it (the built binary in a child process): help
 * wins over any other flag, whatever its value.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
