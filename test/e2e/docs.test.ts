/**
 * The documentation works as written: every relative link in README.md, docs/*.md and
 * examples/README.md points to a file (and heading) that exists, every TypeScript block
 * type-checks against the sources, and the example vitest file passes when run the way
 * examples/README.md says.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { anchors, codeBlocks, docFiles, links, readDoc, ROOT } from '../unit/docs/markdown.js';
import { typecheckSnippets } from '../unit/docs/typecheck.js';

const run = promisify(execFile);

/** Links into this repository's own tree, written absolute so they also work from the npm package. */
const REPO_BLOB = (() => {
  const { repository } = JSON.parse(readDoc('package.json')) as { repository: { url: string } };
  return `${repository.url.replace(/^git\+/, '').replace(/\.git$/, '')}/blob/main/`;
})();

describe('documentation links', () => {
  const files = docFiles();

  it('finds the documentation files', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('docs/getting-started.md');
    expect(files).toContain('examples/README.md');
  });

  for (const file of files) {
    it(`every relative link in ${file} points to an existing file and heading`, () => {
      const broken: string[] = [];
      for (const { target, line } of links(readDoc(file))) {
        if (target.startsWith(REPO_BLOB)) {
          const rel = target.slice(REPO_BLOB.length).split('#')[0] ?? '';
          if (!existsSync(join(ROOT, rel))) broken.push(`${file}:${line}: ${target} (no ${rel} in this repository)`);
          continue;
        }
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, ...
        const hash = target.indexOf('#');
        const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
        const anchor = hash < 0 ? undefined : target.slice(hash + 1);
        const rel = path === '' ? file : normalize(join(dirname(file), path));
        if (rel.startsWith('..')) {
          broken.push(`${file}:${line}: ${target} leaves the repository`);
          continue;
        }
        if (!existsSync(join(ROOT, rel))) {
          broken.push(`${file}:${line}: ${target} (no ${rel})`);
          continue;
        }
        if (anchor !== undefined && anchor !== '' && rel.endsWith('.md') && !anchors(readDoc(rel)).has(anchor)) {
          broken.push(`${file}:${line}: ${target} (no heading #${anchor} in ${rel})`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});

/**
 * Pages whose TypeScript blocks are complete programs (imports included). docs/configuration.md
 * and docs/load-balancing.md show fragments and are not checked here.
 */
const CHECKED_CODE = [
  'README.md',
  'docs/getting-started.md',
  'docs/failover.md',
  'docs/testing.md',
  'docs/load-testing.md',
  'docs/protocol-notes.md',
  'docs/errors.md',
  'docs/reliability.md',
  'examples/README.md',
];

describe('documentation code', () => {
  it('every TypeScript block type-checks as a module of this repository', () => {
    const snippets = CHECKED_CODE.filter((f) => docFiles().includes(f)).flatMap((file) =>
      codeBlocks(readDoc(file))
        .filter((b) => b.lang === 'ts' || b.lang === 'typescript')
        .map((b) => ({ origin: `${file}:${b.line}`, code: b.code })),
    );
    expect(snippets.length).toBeGreaterThan(15);
    const problems = typecheckSnippets(snippets).map((d) => `${d.origin} (+${d.line - 1}): ${d.message}`);
    expect(problems).toEqual([]);
  }, 120_000);
});

describe('documentation programs', () => {
  // Blocks marked ```ts run use only mock managers on 127.0.0.1. Each runs as a standalone program,
  // as a reader would run it: its types stripped, saved as an ES module in a scratch project where
  // `agentlink` is this package (built dist/, resolved through package.json exports), started with
  // `node` in a child process. It must exit by itself with code 0: a snippet that leaves a socket or
  // timer open hangs and fails here.
  const runnable = CHECKED_CODE.filter((f) => docFiles().includes(f)).flatMap((file) =>
    codeBlocks(readDoc(file))
      .filter((b) => (b.lang === 'ts' || b.lang === 'typescript') && /\brun\b/.test(b.info))
      .map((b) => ({ file, line: b.line, code: b.code })),
  );
  const dir = join(ROOT, '.tmp', 'docs-run');

  beforeAll(() => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-programs', private: true, type: 'module' }));
    symlinkSync(ROOT, join(dir, 'node_modules', 'agentlink'), 'dir');
  });

  it('finds runnable blocks', () => {
    expect(runnable.length).toBeGreaterThan(0);
  });

  for (const block of runnable) {
    it(`${block.file}:${block.line} runs to the end as a standalone program`, async () => {
      expect(existsSync(join(ROOT, 'dist/src/index.js')), 'dist/ missing: the build failed (see the global setup warning)').toBe(true);
      const js = ts.transpileModule(block.code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      }).outputText;
      const path = join(dir, `${block.file.replace(/[/.]/g, '_')}_${block.line}.mjs`);
      writeFileSync(path, js);
      const result = await new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => {
        execFile(process.execPath, [path], { cwd: dir, timeout: 30_000 }, (err, _stdout, stderr) => {
          const e = err as (Error & { code?: number | string; signal?: string; killed?: boolean }) | null;
          resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, signal: e?.signal ?? null, stderr });
        });
      });
      expect(result.signal, `still running after 30 s (something keeps the process alive)\n${result.stderr}`).toBeNull();
      expect(result.code, result.stderr).toBe(0);
    }, 40_000);
  }
});

describe('examples/fleet-load-test.ts', () => {
  it('runs a fleet through a node kill and accounts for every event', async () => {
    const script = join(ROOT, 'dist/examples/fleet-load-test.js');
    expect(existsSync(script), `${script} missing: the build failed (see the global setup warning)`).toBe(true);
    const { stdout } = await run(process.execPath, [script], { cwd: ROOT, timeout: 60_000 });
    expect(stdout).toMatch(/killed node\d; 300 agents connected again/);
    const m = /events: (\d+) generated = (\d+) written \+ (\d+) dropped; (\d+) received, (\d+) lost \(in flight on the killed node's connections: (\d+), unexplained: (\d+)\)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    const [generated, written, dropped, received, lost, inFlight, unexplained] = m!.slice(1).map(Number) as [number, number, number, number, number, number, number];
    expect(written + dropped).toBe(generated);
    expect(written - received).toBe(lost);
    expect(stdout).toMatch(new RegExp(`│ events generated +│ ${generated.toLocaleString('en-US')} `));
    expect(inFlight).toBe(lost);
    expect(unexplained).toBe(0);
  }, 90_000);
});

describe('examples/vitest-agent.test.ts', () => {
  it('passes when run with the command examples/README.md gives', async () => {
    const readme = readDoc('examples/README.md');
    expect(readme).toContain('npx vitest run --config examples/vitest.config.ts');
    const vitest = join(ROOT, 'node_modules/vitest/vitest.mjs');
    const { stdout } = await run(process.execPath, [vitest, 'run', '--config', 'examples/vitest.config.ts'], {
      cwd: ROOT,
      timeout: 90_000,
      env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    expect(stdout).toMatch(/examples\/vitest-agent\.test\.ts/);
    expect(stdout).toMatch(/Tests\s+\d+ passed/);
    expect(stdout).not.toMatch(/failed/);
  }, 120_000);
});
