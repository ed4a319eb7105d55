/**
 * The `agentlink` command lines in the documentation are valid: the command exists, `simulate`
 * lines pass the real flag parser, and the other commands only use flags their help text lists.
 * (deploy/k8s's command lines run as their pods would in test/e2e/k8s.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { ENROLL_USAGE } from '../../../src/cli/enroll.js';
import { KEYS_USAGE } from '../../../src/cli/keys.js';
import { MAIN_USAGE } from '../../../src/cli/main.js';
import { MANAGER_USAGE } from '../../../src/cli/manager.js';
import { REPORT_USAGE } from '../../../src/cli/report.js';
import { parseSimulateArgs } from '../../../src/simulator/index.js';
import { codeBlocks, readDoc } from './markdown.js';

const PAGES = ['README.md', 'docs/getting-started.md', 'docs/testing.md', 'docs/load-testing.md', 'docs/failover.md', 'examples/README.md'];

/**
 * Splits a shell command line into commands of words: quotes, `$((...))` and `$VAR` handled,
 * comments dropped, unquoted `&&`, `||`, `|` and `;` separate commands.
 */
function commandsOf(line: string): string[][] {
  const out: string[][] = [[]];
  let cur = '';
  let has = false;
  const flush = (): void => {
    if (has) out.at(-1)!.push(cur);
    cur = '';
    has = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated quote in: ${line}`);
      cur += line.slice(i + 1, end);
      has = true;
      i = end;
    } else if (/\s/.test(c)) {
      flush();
    } else if (c === '#' && !has) {
      break;
    } else if (c === ';' || c === '|' || (c === '&' && line[i + 1] === '&')) {
      flush();
      out.push([]);
      if (line[i + 1] === c) i++;
    } else {
      cur += c;
      has = true;
    }
  }
  flush();
  return out.filter((w) => w.length > 0);
}

/** Every `agentlink ...` invocation in a shell text, as argument lists after the program. */
function invocations(text: string): { args: string[]; line: string }[] {
  const joined = text
    .replace(/\\\n/g, ' ')
    .replace(/\$\{?(\w+)\}?/g, 'VALUE');
  const out: { args: string[]; line: string }[] = [];
  for (const raw of joined.split('\n')) {
    for (const w of commandsOf(raw)) {
      const at = w.findIndex((x) => x === 'agentlink' || /(^|\/)agentlink(\.js)?$/.test(x));
      if (at < 0) continue;
      if (at > 0 && !['npx', 'node', 'sudo', 'exec'].includes(w[at - 1]!)) continue;
      out.push({ args: w.slice(at + 1), line: raw.trim() });
    }
  }
  return out;
}

function flagsOf(args: readonly string[]): string[] {
  return args.filter((a) => a.startsWith('-')).map((a) => a.split('=')[0]!);
}

const commands = new Set([...MAIN_USAGE.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!));
const usageOf: Record<string, string> = { enroll: ENROLL_USAGE, keys: KEYS_USAGE, report: REPORT_USAGE, manager: MANAGER_USAGE };

function check(args: string[]): string | undefined {
  const [command, ...rest] = args;
  if (command === undefined || !commands.has(command)) return `unknown command '${command}'`;
  if (command === 'simulate') {
    try {
      // a shell variable stands for a value the flag takes: --start-at "$START" is a time ahead
      parseSimulateArgs(rest.map((a, i) => (a === 'VALUE' && rest[i - 1] === '--start-at' ? '+2m' : a)));
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  }
  const usage = usageOf[command];
  if (usage !== undefined) {
    const unknown = flagsOf(rest).filter((f) => !new RegExp(`(^|[\\s,\\[])${f.replace(/[-]/g, '\\-')}\\b`, 'm').test(usage));
    if (unknown.length > 0) return `flags not in 'agentlink ${command}' help: ${unknown.join(', ')}`;
  }
  if (command === 'keys' && (rest[0] !== 'generate' || !/^\d+$/.test(rest[1] ?? ''))) return 'keys needs: generate N';
  if (command === 'report' && rest[0] !== 'merge') return 'report needs: merge A.json B.json';
  return undefined;
}

describe('agentlink command lines in the documentation', () => {
  const found = PAGES.flatMap((page) =>
    codeBlocks(readDoc(page))
      .filter((b) => ['sh', 'shell', 'bash', 'console'].includes(b.lang))
      .flatMap((b) => invocations(b.code).map((inv) => ({ ...inv, where: `${page}:${b.line}` }))),
  );

  it('finds the command lines', () => {
    expect(found.filter((f) => f.args[0] === 'simulate').length).toBeGreaterThanOrEqual(4);
  });

  it('uses existing commands and flags, and every simulate line parses', () => {
    const bad = found.map((f) => ({ f, problem: check(f.args) })).filter((x) => x.problem !== undefined);
    expect(bad.map(({ f, problem }) => `${f.where}: ${f.line}: ${problem}`)).toEqual([]);
  });

  it('rejects a broken line (the checker itself works)', () => {
    expect(check(['simulate', '--agents', '10', '--managr', 'x:1514'])).toMatch(/unknown flag/);
    expect(check(['manager', '--prot', '1514'])).toMatch(/--prot/);
    expect(check(['simulat'])).toMatch(/unknown command/);
  });
});
