/**
 * The published package works for a new user: `npm pack`, install the tarball into a scratch
 * project (offline, from the npm cache `npm ci` filled), type-check consumers with NodeNext and
 * node10 resolution, run them as ES modules and as CommonJS, and run `npx agentlink --version`.
 * The tarball itself carries a license, the sources its source maps name and the docs its
 * README links to.
 *
 * The scratch project gets a lockfile made from this repository's: the same dependency versions,
 * fetched only by integrity from the cache, so `npm ci --offline` needs no registry metadata (a
 * fresh CI clone has the tarballs in its cache after `npm ci`, not the packuments).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { links } from '../unit/docs/markdown.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const DIR = join(ROOT, '.tmp', 'consumer');
const PKG = join(DIR, 'node_modules', 'agentlink');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const NPM_ENV = { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  devOptional?: boolean;
  [k: string]: unknown;
}

const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  engines: { node: string };
  scripts: Record<string, string>;
};

/** The scratch project's lockfile: agentlink from the tarball, its dependencies as this repository locks them. */
function consumerLock(tarball: string, integrity: string): object {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const self = lock.packages[''] as LockEntry;
  const packages: Record<string, LockEntry> = {
    '': { name: 'consumer', dependencies: { agentlink: `file:${tarball}` } },
    'node_modules/agentlink': {
      version: rootPkg.version,
      resolved: `file:${tarball}`,
      integrity,
      license: self.license,
      dependencies: self.dependencies,
      bin: self.bin,
      engines: self.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev || entry.devOptional || !path.startsWith('node_modules/')) continue;
    packages[path] = entry;
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

/** A consumer program: the SDK's agent against the test kit's manager, one event through, a clean stop. */
function program(flavour: string, imports: string): string {
  return `${imports}

async function main(): Promise<void> {
  const key = { id: '001', name: 'consumer', ip: 'any', key: 'c'.repeat(64) };
  const manager = new MockManager({ keys: [key] });
  await manager.start();
  const agent = new AgentClient({ agent: key, servers: [{ address: '127.0.0.1', port: manager.port }] });
  await agent.start();
  agent.sendEvent({ location: 'consumer', message: 'hello from ${flavour}' });
  await manager.waitForEvents((e) => e.message === 'hello from ${flavour}', { timeout: 10_000 });
  await agent.stop();
  await manager.close();
  const report: FleetReport | undefined = undefined;
  console.log('${flavour} ok', typeof mergeReports, report === undefined);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
`;
}

const ESM_IMPORTS = `import { AgentClient } from 'agentlink';
import { MockManager } from 'agentlink/testing';
import { mergeReports, type FleetReport } from 'agentlink/simulator';`;

/** TypeScript writes `require` calls for these imports in a CommonJS file. */
const CJS_IMPORTS = ESM_IMPORTS;

function tsconfig(options: Record<string, unknown>, files: string[]): string {
  return JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        strict: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        ...options,
      },
      files,
    },
    null,
    2,
  );
}

async function tsc(project: string): Promise<void> {
  try {
    await run(process.execPath, [TSC, '-p', project], { cwd: DIR, timeout: 60_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`tsc -p ${project} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

async function node(script: string): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [script], { cwd: DIR, timeout: 30_000 });
}

describe('the npm package, installed from its tarball into a scratch project', () => {
  let packed: string[] = [];

  beforeAll(async () => {
    expect(existsSync(join(ROOT, 'dist/src/index.js')), 'dist/ missing: the build failed (see the global setup warning)').toBe(true);
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR, { recursive: true });
    // dist/ is fresh (the global setup builds it), so pack without running prepack's build again.
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', DIR], { cwd: ROOT, env: NPM_ENV, timeout: 60_000 });
    const [info] = JSON.parse(stdout) as [{ filename: string; integrity: string; files: { path: string }[] }];
    packed = info.files.map((f) => f.path);
    writeFileSync(join(DIR, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { agentlink: `file:${info.filename}` } }, null, 2));
    writeFileSync(join(DIR, 'package-lock.json'), JSON.stringify(consumerLock(info.filename, info.integrity), null, 2));
    try {
      await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: DIR, env: NPM_ENV, timeout: 60_000 });
    } catch (err) {
      const e = err as { stderr?: string };
      throw new Error(`npm ci --offline in ${DIR} failed (the repository's npm ci fills the cache it needs):\n${e.stderr ?? String(err)}`);
    }

    writeFileSync(join(DIR, 'esm.mts'), program('esm', ESM_IMPORTS));
    writeFileSync(join(DIR, 'cjs.cts'), program('cjs', CJS_IMPORTS));
    writeFileSync(join(DIR, 'node10.ts'), program('node10', ESM_IMPORTS));
    writeFileSync(join(DIR, 'tsconfig.nodenext.json'), tsconfig({ module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'out-nodenext' }, ['esm.mts', 'cjs.cts']));
    writeFileSync(join(DIR, 'tsconfig.node10.json'), tsconfig({ module: 'CommonJS', moduleResolution: 'node10', esModuleInterop: true, outDir: 'out-node10' }, ['node10.ts']));
  }, 120_000);

  it('ships the license, the compiled code with its declarations, and no build script that runs on install', () => {
    expect(packed).toContain('LICENSE');
    expect(readFileSync(join(PKG, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
    const pkg = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as Record<string, unknown> & { scripts?: Record<string, string> };
    for (const hook of ['prepare', 'preinstall', 'install', 'postinstall']) expect(pkg.scripts?.[hook], `scripts.${hook}`).toBeUndefined();
    expect(rootPkg.scripts.prepack).toMatch(/npm run build/);
    for (const field of ['repository', 'homepage', 'bugs', 'main', 'types']) expect(pkg[field], field).toBeDefined();
    const named = JSON.stringify([pkg.main, pkg.types, pkg.exports, pkg.bin, pkg.typesVersions]).match(/\.\/[\w./-]+\.(?:js|d\.ts)(?![\w])/g) ?? [];
    expect(named.length).toBeGreaterThan(8);
    for (const file of named) expect(existsSync(join(PKG, file)), `${file} named in package.json`).toBe(true);
  });

  it('ships every source file its source maps name', () => {
    const maps = packed.filter((p) => p.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(PKG, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const s of sources) {
        const file = normalize(join(dirname(map), sourceRoot ?? '', s));
        if (file.startsWith('..') || !existsSync(join(PKG, file))) missing.push(`${map} -> ${s}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('ships the documents its Markdown files link to, so the links work in node_modules', () => {
    const docs = packed.filter((p) => p.endsWith('.md'));
    expect(docs).toEqual(expect.arrayContaining(['README.md', 'docs/getting-started.md', 'docs/errors.md']));
    const broken: string[] = [];
    for (const doc of docs) {
      for (const { target, line } of links(readFileSync(join(PKG, doc), 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
        const path = decodeURIComponent(target.split('#')[0] ?? '');
        const file = normalize(join(dirname(doc), path));
        if (file.startsWith('..') || !existsSync(join(PKG, file))) broken.push(`${doc}:${line}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('states the Node.js floor that require() of the package needs (20.19)', () => {
    const pkg = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=20.19.0');
    expect(readFileSync(join(PKG, 'README.md'), 'utf8')).toContain('Node.js 20.19 or newer');
  });

  it('type-checks (declarations included) and runs an ES module and a CommonJS consumer with NodeNext resolution', async () => {
    await tsc('tsconfig.nodenext.json');
    const esm = await node('out-nodenext/esm.mjs');
    expect(esm.stdout).toBe('esm ok function true\n');
    const cjs = await node('out-nodenext/cjs.cjs');
    expect(cjs.stdout).toBe('cjs ok function true\n');
  }, 90_000);

  it('type-checks and runs a CommonJS consumer with node10 resolution (main, types, typesVersions)', async () => {
    await tsc('tsconfig.node10.json');
    const out = await node('out-node10/node10.js');
    expect(out.stdout).toBe('node10 ok function true\n');
  }, 90_000);

  it('runs `npx agentlink --version` from the installed bin', async () => {
    const { stdout } = await run('npx', ['--offline', '--no-install', 'agentlink', '--version'], { cwd: DIR, env: NPM_ENV, timeout: 30_000 });
    expect(stdout.trim()).toBe(rootPkg.version);
    expect(statSync(join(DIR, 'node_modules', '.bin', 'agentlink')).isFile()).toBe(true);
  });
});
