/**
 * docs/errors.md lists exactly the codes of ERROR_CODES, one `### ERR_…` section each, and names
 * for each the class that can carry it. The classes' code unions are read from src/errors.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as errors from '../../../src/errors.js';
import { AbortError, AgentlinkError, CounterStoreError, ERROR_CODES, RequestError } from '../../../src/errors.js';
import { readDoc, ROOT } from './markdown.js';

const doc = readDoc('docs/errors.md');

/** `### ERR_X` sections: code → section text. */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = text.split(/^### /m).slice(1);
  for (const part of parts) {
    const title = part.split('\n', 1)[0]!.trim();
    if (/^`?ERR_/.test(title)) out.set(title.replace(/`/g, ''), part);
  }
  return out;
}

/** Which codes each class can carry, from the `XErrorCode` unions and the fixed-code classes. */
function codesByClass(): Map<string, Set<string>> {
  const source = readFileSync(join(ROOT, 'src/errors.ts'), 'utf8');
  const out = new Map<string, Set<string>>();
  for (const m of source.matchAll(/export type (\w+)ErrorCode\s*=([^;]+);/g)) {
    out.set(`${m[1]}Error`, new Set([...m[2]!.matchAll(/'(ERR_[A-Z_]+)'/g)].map((c) => c[1]!)));
  }
  out.set('AbortError', new Set([new AbortError().code]));
  out.set('CounterStoreError', new Set([new CounterStoreError('x').code]));
  out.set('RequestError', new Set([new RequestError('x').code]));
  return out;
}

const known = new Set<string>(Object.keys(ERROR_CODES));
const documented = sections(doc);

describe('docs/errors.md', () => {
  it('has a section for every code in ERROR_CODES', () => {
    const missing = [...known].filter((c) => !documented.has(c));
    expect(missing, 'codes without a ### section in docs/errors.md').toEqual([]);
  });

  it('has no section for a code that does not exist', () => {
    const extra = [...documented.keys()].filter((c) => !known.has(c));
    expect(extra, 'sections for unknown codes').toEqual([]);
  });

  it('mentions no unknown ERR_ code anywhere (typos included)', () => {
    const mentioned = new Set([...doc.matchAll(/\bERR_[A-Z_]*[A-Z]\b/g)].map((m) => m[0]));
    const wildcard = [...doc.matchAll(/\bERR_[A-Z_]*_\*/g)].map((m) => m[0].slice(0, -1));
    expect([...mentioned].filter((c) => !known.has(c))).toEqual([]);
    for (const prefix of wildcard) expect([...known].some((c) => c.startsWith(prefix)), `${prefix}*`).toBe(true);
  });

  it('names, in each section, an error class that really carries that code', () => {
    const byClass = codesByClass();
    const wrong: string[] = [];
    for (const [code, text] of documented) {
      const cls = /\*\*Class:\*\*\s*`(\w+)`/.exec(text)?.[1];
      if (cls === undefined) {
        wrong.push(`${code}: no **Class:** line`);
        continue;
      }
      const ctor = (errors as Record<string, unknown>)[cls];
      if (typeof ctor !== 'function' || !(ctor.prototype instanceof AgentlinkError)) wrong.push(`${code}: ${cls} is not an AgentlinkError subclass`);
      else if (!byClass.get(cls)?.has(code)) wrong.push(`${code}: ${cls} cannot carry it`);
    }
    expect(wrong).toEqual([]);
  });

  it('says, in each section, what causes the error and what to do', () => {
    const incomplete = [...documented].filter(([, text]) => !/\*\*Cause:\*\*/.test(text) || !/\*\*What to do:\*\*/.test(text)).map(([c]) => c);
    expect(incomplete).toEqual([]);
  });

  it('reads codes from the ### headings only', () => {
    const without = sections(doc.replace(/^### ERR_TIMEOUT$/m, '### Something else'));
    expect(without.has('ERR_TIMEOUT')).toBe(false);
  });
});
