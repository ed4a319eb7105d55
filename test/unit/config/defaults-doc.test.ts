import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as config from '../../../src/config/index.js';
import type { AgentClientOptions } from '../../../src/index.js';

const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');

/** Splits a Markdown table row into trimmed cells (a `\|` inside a cell does not split). */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());
}

/** Every table of the document: header cells and body rows. */
function tables(markdown: string): Array<{ header: string[]; rows: string[][] }> {
  const lines = markdown.split('\n');
  const out: Array<{ header: string[]; rows: string[][] }> = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\|(\s*:?-+:?\s*\|)+\s*$/.test(lines[i + 1]!.trim())) continue;
    const table = { header: cells(lines[i]!), rows: [] as string[][] };
    for (i += 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) table.rows.push(cells(lines[i]!));
    out.push(table);
  }
  return out;
}

/** Reads a documented default: `` `20000` ``, `` `'aes'` ``, `` `true` ``. */
function literal(cell: string): unknown {
  const m = /^`(.*)`$/.exec(cell);
  if (!m) return Symbol(`not a literal: ${cell}`);
  const text = m[1]!;
  if (/^'.*'$/.test(text)) return text.slice(1, -1);
  if (text === 'true' || text === 'false') return text === 'true';
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return Symbol(`not a literal: ${cell}`);
}

/** constant name → documented values (a constant may back several options). */
function documentedConstants(): Map<string, unknown[]> {
  const found = new Map<string, unknown[]>();
  for (const t of tables(doc)) {
    const ci = t.header.indexOf('constant');
    const vi = t.header.includes('default') ? t.header.indexOf('default') : t.header.indexOf('value');
    if (ci < 0 || vi < 0) continue;
    for (const row of t.rows) {
      const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(row[ci] ?? '')?.[1];
      if (!name) continue;
      found.set(name, [...(found.get(name) ?? []), literal(row[vi] ?? '')]);
    }
  }
  return found;
}

const exported = Object.entries(config).filter(([name]) => /^(DEFAULT|MIN|MAX)_[A-Z0-9_]+$/.test(name)) as Array<[string, unknown]>;

describe('docs/configuration.md', () => {
  const documented = documentedConstants();

  it('finds the option and limit tables', () => {
    expect(documented.size).toBeGreaterThan(20);
    expect(exported.length).toBeGreaterThan(20);
  });

  it.each(exported)('documents %s with its exported value', (name, value) => {
    expect(documented.has(name), `${name} is exported but missing from docs/configuration.md`).toBe(true);
    for (const v of documented.get(name) ?? []) expect(v, `documented default of ${name}`).toEqual(value);
  });

  it('names only constants that exist', () => {
    const names = new Set(exported.map(([n]) => n));
    for (const name of documented.keys()) expect(names.has(name), `${name} is documented but not exported`).toBe(true);
  });

  it('has a row for every option of AgentClientOptions', () => {
    // A Record over keyof makes this list fail to compile when an option is added or renamed.
    const options: Record<keyof AgentClientOptions, true> = {
      agent: true, keys: true, servers: true, notifyTime: true, timeReconnect: true, handshakeTimeout: true,
      connectTimeout: true, cryptoMethod: true, compressionLevel: true, reconnect: true, forceReconnectInterval: true, ipUpdateInterval: true,
      buffer: true, enrollment: true, labels: true, uname: true, version: true, agentConfigSum: true, counterStore: true,
      logger: true, signal: true, persistent: true, delivery: true, retransmit: true, localAddress: true, configProfile: true,
      autoRestart: true,
    };
    const optionCells = tables(doc)
      .filter((t) => t.header[0] === 'option')
      .flatMap((t) => t.rows.map((r) => r[0] ?? ''));
    for (const name of Object.keys(options)) {
      const re = new RegExp(`^\`${name}(\`|\\[\\]\\.|\\.)`);
      expect(optionCells.some((c) => re.test(c)), `option ${name} has no row`).toBe(true);
    }
  });
});
