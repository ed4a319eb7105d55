/**
 * `agentlink simulate --dashboard` as a user runs it: the URL is printed at once even with
 * `--quiet`, the endpoints listen on 127.0.0.1 unless a host flag says otherwise, and then a
 * warning says what they expose.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-dashboard-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = ['simulate', '--agents', '4', '--cluster', '1', '--duration', '1s', '--drain', '500ms', '--quiet'];

describe('simulate --dashboard', () => {
  it('prints where the dashboard and the metrics are, on 127.0.0.1, without a warning', async () => {
    const r = await runCli([...run, '--dashboard', '0', '--prometheus', '0'], { cwd: dir });
    expect(r.stderr).toMatch(/^agentlink simulate: live dashboard at http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(r.stderr).toMatch(/^agentlink simulate: Prometheus metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
    expect(r.stderr).not.toContain('warning');
    expect(r.code).toBe(0);
  }, 60_000);

  it('with --dashboard-host and --prometheus-host 0.0.0.0 it warns that agent names and cluster addresses are exposed', async () => {
    const r = await runCli([...run, '--dashboard', '0', '--dashboard-host', '0.0.0.0', '--prometheus', '0', '--prometheus-host', '0.0.0.0'], { cwd: dir });
    expect(r.stderr).toContain('agentlink simulate: warning: the dashboard listens on 0.0.0.0 (--dashboard-host): anyone who can reach this address sees the agent names and the cluster addresses');
    expect(r.stderr).toContain('agentlink simulate: warning: the Prometheus endpoint listens on 0.0.0.0 (--prometheus-host)');
    expect(r.code).toBe(0);
  }, 60_000);

  it('a dashboard port in use ends the run with exit 1 and an ERR_LISTEN line that names --dashboard', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const r = await runCli([...run, '--dashboard', String(port)], { cwd: dir });
      expect(r.stderr).toMatch(new RegExp(`--dashboard.*127\\.0\\.0\\.1:${port}.*EADDRINUSE.*\\(ERR_LISTEN\\)`));
      expect(r.stderr).not.toContain('live dashboard at');
      expect(r.code).toBe(1);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 60_000);

  it('--dashboard-host without --dashboard is a usage error (exit 2)', async () => {
    const r = await runCli([...run, '--dashboard-host', '0.0.0.0'], { cwd: dir });
    expect(r.stderr).toContain('--dashboard-host 0.0.0.0: give --dashboard PORT too');
    expect(r.code).toBe(2);
  }, 60_000);
});
