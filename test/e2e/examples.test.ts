import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

/** The quick examples run for real (compiled by the global setup), each against mock managers on 127.0.0.1. */
const EXAMPLES: { file: string; expect: RegExp }[] = [
  { file: 'basic-agent', expect: /the mock manager received: \[.*Accepted publickey/s },
  { file: 'failover', expect: /node2 received 10 events queued during the failover, in order/ },
  { file: 'ossec-conf', expect: /servers from ossec\.conf: 127\.0\.0\.1:\d+\/tcp, 127\.0\.0\.1:\d+\/tcp[\s\S]*done/ },
  { file: 'custom-reconnect', expect: /connected to 127\.0\.0\.1:\d+/ },
];

describe('examples run as their header comments say', () => {
  for (const ex of EXAMPLES) {
    it(`${ex.file} finishes with exit code 0 and prints what it promises`, async () => {
      const script = `${root}dist/examples/${ex.file}.js`;
      expect(existsSync(script), `${script} missing: the build failed (see the global setup warning)`).toBe(true);
      const { stdout } = await run(process.execPath, [script], { cwd: root, timeout: 30_000 });
      expect(stdout).toMatch(ex.expect);
    });
  }
});
