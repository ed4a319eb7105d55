/**
 * docs/architecture.md's rules hold in the sources: only transport/ opens protocol sockets (with the
 * three exceptions the page names), and every source file the page points at exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, readDoc } from './markdown.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Value imports from a `node:` socket module: `{ names }` or `* as x` per import statement. */
function socketImports(text: string, module: string): string[][] {
  const out: string[][] = [];
  const re = new RegExp(`^import (?!type )([^;]*?) from '${module}';`, 'gm');
  for (const m of text.matchAll(re)) {
    const clause = m[1]!;
    const named = /\{([^}]*)\}/.exec(clause);
    out.push(named ? named[1]!.split(',').map((n) => n.trim().replace(/^type /, '')).filter((n) => n && !n.startsWith('type ')) : ['*']);
  }
  return out;
}

const ADDRESS_PARSING = new Set(['isIP', 'isIPv4', 'isIPv6']);

describe('docs/architecture.md', () => {
  it('only transport/ opens node:net and node:dgram sockets; lb/ and the TLS pair are the named exceptions', () => {
    const offenders: string[] = [];
    for (const file of sources(join(ROOT, 'src'))) {
      const rel = relative(ROOT, file);
      const text = readFileSync(file, 'utf8');
      for (const module of ['node:net', 'node:dgram']) {
        for (const names of socketImports(text, module)) {
          if (names.every((n) => ADDRESS_PARSING.has(n))) continue;
          if (rel.startsWith('src/transport/') || rel.startsWith('src/testing/lb/')) continue;
          offenders.push(`${rel}: ${module} { ${names.join(', ')} }`);
        }
      }
      if (socketImports(text, 'node:tls').length > 0 && !['src/enrollment/client.ts', 'src/testing/authd.ts'].includes(rel)) offenders.push(`${rel}: node:tls`);
    }
    expect(offenders).toEqual([]);
  });

  it('names only source files that exist', () => {
    const doc = readDoc('docs/architecture.md');
    const paths = [...doc.matchAll(/`((?:[a-z-]+\/)*[a-z-]+\.ts)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(10);
    const missing = paths.filter((p) => !existsSync(join(ROOT, 'src', p)) && !existsSync(join(ROOT, p)) && !existsSync(join(ROOT, 'src/testing', p)));
    expect(missing).toEqual([]);
  });
});
