/**
 * The `agentlink` command line as a user runs it (the built binary in a child process): help
 * wins over any other flag, whatever its value; a failure is one line with its code (exit 1), and
 * AGENTLINK_DEBUG=1 adds the stack.
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
