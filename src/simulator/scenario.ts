/**
 * `simulate --scenario FILE`: a load test written down (JSON or YAML). Every flag of
 * `agentlink simulate` has its field, named after the flag in camelCase (`--time-reconnect` is
 * `timeReconnect`, `--no-spread` is `spread: false`); `target` and `identities` group the target
 * and identity flags, and a repeatable flag takes a list (`managers`, `chaos`, `thresholds`). The
 * file gives values as the flags would (`notify: 5s`, `ramp: 200/s`), and the flag parser checks
 * them, so a scenario means exactly what the same flags mean; a field that is wrong is a
 * {@link agentlink!ConfigError} naming the file, the line and the field.
 *
 * Relative paths in the file (keys, ossec.conf, password file, workload file, reports) are
 * relative to the file's directory.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode, YAMLMap } from 'yaml';
import { AgentlinkError, ConfigError } from '../errors.js';
import { suggestFlag } from './flag-values.js';
import { WORKLOAD_NAMES } from './workloads.js';

/** A flag as `node:util` `parseArgs` declares it. */
export interface FlagSpec {
  /** `string` or `boolean`. */
  type: 'string' | 'boolean';
  /** Repeatable. */
  multiple?: boolean;
}

/** Flag values as `parseArgs` gives them. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** The flag values a scenario file gives, and where each was written. */
export interface ScenarioValues {
  /** By flag name (without dashes), as `parseArgs` would give them. */
  values: FlagValues;
  /** By flag name: `file line N, field 'x'`, for errors. */
  where: Record<string, string>;
  /** By flag name: the field as the file wrote it (`target.cluster`, `thresholds`). */
  fields: Record<string, string>;
}

/** Fields that group others: `target: { cluster: 3 }`, `identities: { keys: client.keys }`. */
const GROUPS: Record<string, readonly string[]> = {
  target: ['manager', 'cluster', 'config'],
  identities: ['keys', 'enroll', 'password-file', 'groups'],
};

/** Plural field names of repeatable flags. */
const PLURALS: Record<string, string> = { managers: 'manager', thresholds: 'threshold', stages: 'stage' };

/** Flags whose value is a path, resolved against the scenario file's directory. */
const PATH_FLAGS = new Set(['config', 'keys', 'password-file', 'report', 'html', 'out']);

/** Flags that make no sense inside a scenario. */
const NOT_IN_SCENARIO = new Set(['scenario', 'help']);

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * The field name of each flag (`time-reconnect` → `timeReconnect`, `no-spread` → `spread`).
 *
 * @param options - the command's flags.
 * @returns field name → flag name.
 */
function fieldNames(options: Record<string, FlagSpec>): Map<string, string> {
  const out = new Map<string, string>();
  for (const flag of Object.keys(options)) {
    if (NOT_IN_SCENARIO.has(flag)) continue;
    out.set(flag.startsWith('no-') ? camel(flag.slice(3)) : camel(flag), flag);
  }
  for (const [plural, flag] of Object.entries(PLURALS)) if (flag in options) out.set(plural, flag);
  return out;
}

/**
 * Reads a scenario file into flag values.
 *
 * @param path - the file, as given to `--scenario`.
 * @param cwd - base of a relative `path`.
 * @param options - the flags of `agentlink simulate` (each has its field).
 * @returns the values by flag name, and where each was written.
 * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for an unreadable file, bad JSON or YAML (with the
 *   line), an unknown field (with a suggestion), or a value of the wrong type, naming the field and line.
 */
export function loadScenario(path: string, cwd: string, options: Record<string, FlagSpec>): ScenarioValues {
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError(`--scenario '${path}': cannot read the file (${code})`, { element: 'scenario', value: path, cause: err });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (node: YamlNode | null | undefined): number | undefined => (node?.range ? lines.linePos(node.range[0]).line : undefined);
  const fail = (message: string, field: string, node?: YamlNode | null, value?: unknown): never => {
    const line = lineOf(node);
    throw new ConfigError(`scenario '${path}'${line !== undefined ? ` line ${line}` : ''}: ${field ? `field '${field}': ` : ''}${message}`, {
      element: field || 'scenario',
      value,
    });
  };
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = lines.linePos(syntax.pos[0]);
    throw new ConfigError(`scenario '${path}' line ${pos.line}, column ${pos.col}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${syntax.message.split('\n')[0]}`, {
      element: 'scenario',
      value: pos,
    });
  }
  if (extname(file) === '.json') {
    // YAML reads every JSON file, and some that are not JSON: a .json file must be JSON
    try {
      JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`scenario '${path}': not valid JSON: ${(err as Error).message}`, { element: 'scenario', cause: err });
    }
  }
  if (!isMap(doc.contents)) return fail('the file must hold a mapping of fields (agents: 100, target: { cluster: 3 }, ...)', '', doc.contents);

  const fields = fieldNames(options);
  const base = dirname(file);
  const values: FlagValues = {};
  const where: Record<string, string> = {};
  const written: Record<string, string> = {};

  const take = (name: string, node: YamlNode | null, keyNode: YamlNode | null, display: string, allowed: ReadonlyMap<string, string>): void => {
    const flag = allowed.get(name);
    if (flag === undefined) {
      const hint = suggestFlag(name, [...allowed.keys()]);
      return fail(`unknown field${hint ? `; did you mean '${hint.slice(2)}'?` : ''} (the fields are the flags of agentlink simulate --help, in camelCase)`, display, keyNode);
    }
    if (node === null || (isScalar(node) && node.value === null)) return fail('has no value', display, keyNode);
    if (values[flag] !== undefined) return fail(`given twice (as '${display}' and as another name of --${flag})`, display, keyNode);
    const spec = options[flag]!;
    let value = convert(node, spec, flag, display);
    if (flag.startsWith('no-')) value = value === false; // spread: false is --no-spread
    if (PATH_FLAGS.has(flag) && typeof value === 'string' && value !== '-' && !isAbsolute(value)) value = resolve(base, value);
    if (flag === 'workload' && typeof value === 'string' && !isWorkloadName(value) && !isAbsolute(value)) value = resolve(base, value);
    values[flag] = value;
    written[flag] = display;
    where[flag] = `scenario '${path}'${lineOf(node) !== undefined ? ` line ${lineOf(node)}` : ''}, field '${display}'`;
  };

  const convert = (node: YamlNode | null, spec: FlagSpec, flag: string, display: string): string | boolean | string[] => {
    const scalar = (n: YamlNode | null, what: string): string => {
      const v = isScalar(n) ? n.value : undefined;
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
      return fail(`must be ${what} (as --${flag} takes it)`, display, n, v);
    };
    // a stage is written { duration: 30s, agents: 100, eps: 2 }: the --stage text of it
    const stageText = (n: YamlNode, at: string): string => {
      if (!isMap(n)) return scalar(n, 'a list of stages ({ duration: 30s, agents: 100, eps: 1 })');
      const parts: Record<string, string> = {};
      for (const p of n.items) {
        const k = isScalar(p.key) ? String(p.key.value) : '';
        if (!['duration', 'agents', 'eps'].includes(k)) return fail(`unknown stage field '${k}': a stage has duration, agents and eps`, at, p.key as YamlNode);
        parts[k] = scalar((p.value ?? p.key) as YamlNode, `a string or a number (${k})`);
      }
      if (parts.duration === undefined) return fail('a stage needs a duration (duration: 30s)', at, n);
      return [parts.duration, ...(['agents', 'eps'] as const).filter((k) => parts[k] !== undefined).map((k) => `${k}=${parts[k]}`)].join(',');
    };
    if (spec.type === 'boolean') {
      const v = isScalar(node) ? node.value : undefined;
      if (typeof v !== 'boolean') return fail('must be true or false', display, node, v);
      return v;
    }
    if (flag === 'groups' && isSeq(node)) return node.items.map((n) => scalar(n as YamlNode, 'a list of group names')).join(',');
    if (spec.multiple) {
      if (isSeq(node)) {
        if (node.items.length === 0) return fail('is an empty list; leave the field out instead', display, node);
        if (flag === 'stage') return node.items.map((n, i) => stageText(n as YamlNode, `${display}[${i}]`));
        return node.items.map((n, i) => scalar(n as YamlNode, `a list of values (item ${i + 1} is not a string or number)`));
      }
      return [scalar(node, 'a value or a list of values')];
    }
    return scalar(node, 'a string or a number');
  };

  for (const pair of (doc.contents as YAMLMap).items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const node = (pair.value ?? null) as YamlNode | null;
    const keyNode = pair.key as YamlNode | null;
    const group = GROUPS[key];
    if (group) {
      if (!isMap(node)) return fail(`must be a mapping (${key}: { ${group.map((f) => fieldName(f)).join(' | ')}: ... })`, key, node ?? keyNode);
      const inner = new Map([...fields].filter(([, flag]) => group.includes(flag)));
      for (const p of node.items) {
        const name = isScalar(p.key) ? String(p.key.value) : '';
        take(name, (p.value ?? null) as YamlNode | null, p.key as YamlNode | null, `${key}.${name}`, inner);
      }
      continue;
    }
    take(key, node, keyNode, key, fields);
  }
  return { values, where, fields: written };
}

function fieldName(flag: string): string {
  return flag.startsWith('no-') ? camel(flag.slice(3)) : camel(flag);
}

function isWorkloadName(spec: string): boolean {
  return (WORKLOAD_NAMES as readonly string[]).includes(spec) || /^mixed:/.test(spec);
}

/**
 * Merges a scenario's values under the command line's (a flag given wins; a target flag given
 * replaces the file's whole target) and builds the configuration from them. A usage error about a
 * value that came from the file becomes a {@link agentlink!ConfigError} naming the file, line and field.
 *
 * @param cli - the command line's values.
 * @param scenario - the file's values.
 * @param build - the flag parser's builder.
 * @returns what `build` returns.
 * @throws {@link agentlink!ConfigError} for a bad value from the file; the builder's errors otherwise.
 */
export function withScenario<V extends FlagValues, T>(cli: V, scenario: ScenarioValues, build: (values: V) => T): T {
  const merged: FlagValues = { ...scenario.values };
  const where = { ...scenario.where };
  const given = Object.entries(cli).filter(([, v]) => v !== undefined);
  if (given.some(([flag]) => GROUPS.target!.includes(flag))) {
    for (const flag of GROUPS.target!) {
      delete merged[flag];
      delete where[flag];
    }
  }
  for (const [flag, v] of given) {
    merged[flag] = v;
    delete where[flag];
  }
  try {
    return build(merged as V);
  } catch (err) {
    const flag = err instanceof AgentlinkError && err.code === 'ERR_USAGE' ? /^--([\w-]+)/.exec(err.message)?.[1] : undefined;
    const at = flag !== undefined ? where[flag] : undefined;
    if (flag === undefined || at === undefined) throw err;
    throw new ConfigError(`${at}: ${err instanceof Error ? err.message : String(err)}`, { element: scenario.fields[flag] ?? flag, cause: err });
  }
}
