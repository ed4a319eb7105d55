/**
 * The `agentlink` command lines in the documentation and in deploy/k8s are valid: the command
 * exists, `simulate` lines pass the real flag parser, and the other commands only use flags their
 * help text lists. The Kubernetes manifest's shard count matches its `--shard` argument.
 */
import { describe, expect, it } from 'vitest';
import { KEYS_USAGE } from '../../../src/cli/keys.js';
import { MAIN_USAGE } from '../../../src/cli/main.js';
import { MANAGER_USAGE } from '../../../src/cli/manager.js';
import { REPORT_USAGE } from '../../../src/cli/report.js';
import { parseSimulateArgs } from '../../../src/simulator/index.js';
import { codeBlocks, readDoc } from './markdown.js';

const PAGES = ['README.md', 'docs/getting-started.md', 'docs/testing.md', 'docs/load-testing.md', 'docs/failover.md', 'examples/README.md'];
const MANIFEST = 'deploy/k8s/simulate-indexed-job.yaml';

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
    .replace(/\$\(\(JOB_COMPLETION_INDEX\+1\)\)/g, '1')
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
const usageOf: Record<string, string> = { keys: KEYS_USAGE, report: REPORT_USAGE, manager: MANAGER_USAGE };

function check(args: string[]): string | undefined {
  const [command, ...rest] = args;
  if (command === undefined || !commands.has(command)) return `unknown command '${command}'`;
  if (command === 'simulate') {
    try {
      parseSimulateArgs(rest);
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

describe(MANIFEST, () => {
  const text = readDoc(MANIFEST);
  const found = invocations(text);

  it('runs a simulate shard and a report merge that are valid command lines', () => {
    expect(found.map((f) => f.args[0])).toEqual(['simulate', 'report']);
    expect(found.map((f) => check(f.args))).toEqual([undefined, undefined]);
  });

  it('uses one shard count everywhere: completions, parallelism, --shard and the merge wait', () => {
    const completions = Number(/completions: (\d+)/.exec(text)?.[1]);
    const parallelism = Number(/parallelism: (\d+)/.exec(text)?.[1]);
    const shard = /--shard \$\(\(JOB_COMPLETION_INDEX\+1\)\)\/(\d+)/.exec(text)?.[1];
    const wait = /name: SHARDS\s+value: "(\d+)"/.exec(text)?.[1];
    expect(completions).toBeGreaterThan(1);
    expect([parallelism, Number(shard), Number(wait)]).toEqual([completions, completions, completions]);
    expect(text).toMatch(/completionMode: Indexed/);
  });

  it('writes each shard report under a temporary name and renames it when complete', () => {
    expect(text).toMatch(/--report "\/reports\/\$RUN\/shard-\$I\.json\.part"/);
    expect(text).toMatch(/mv "\/reports\/\$RUN\/shard-\$I\.json\.part" "\/reports\/\$RUN\/shard-\$I\.json"/);
    expect(text).toMatch(/report merge shard-\*\.json/);
  });
});
