/**
 * vitest global setup: builds dist/ (from scratch) once when it is older than the sources, so the e2e tests
 * that run the CLI (bin/agentlink.js) and the compiled examples run the current code. A failed
 * build is reported but does not stop unit tests; the e2e tests then fail on their own.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.build-stamp');

function newest(dir: string): number {
  let max = 0;
  if (!existsSync(dir)) return max;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) max = Math.max(max, newest(p));
    else if (entry.name.endsWith('.ts')) max = Math.max(max, statSync(p).mtimeMs);
  }
  return max;
}

export default function setup(): void {
  const sources = Math.max(...['src', 'bench', 'examples'].map((d) => newest(join(root, d))));
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= sources) return;
  try {
    // from scratch: tsc never deletes the output of a source that was moved or removed, and the
    // package ships dist/src whole
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
      stdio: 'pipe',
      cwd: root,
    });
    writeFileSync(stamp, new Date().toISOString());
  } catch (err) {
    const out = (err as { stdout?: Buffer }).stdout?.toString() ?? String(err);
    console.warn(`[global-setup] build of dist/ failed; e2e tests that need it will fail:\n${out.slice(0, 2000)}`);
  }
}
