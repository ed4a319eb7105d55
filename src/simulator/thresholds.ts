/**
 * Pass/fail criteria of a run (`--threshold EXPR`): parsed into {@link Threshold}s, checked against
 * the fields of a {@link FleetReport} by name (so a field added to the report can be judged without
 * a change here), and judged into {@link Verdict}s.
 *
 * `FIELD OP VALUE`: `failover.p99<2s`, `agents.connected>=99%`, `events.dropped==0`. A field is a
 * dotted path into the report; a latency's `p99`, `max`, `mean` name its `p99Ms`, `maxMs`, `meanMs`,
 * and any other percentile (`p95`, `p99.9`) is computed from the report's raw histogram. A time is
 * written with a unit (`us`, `ms`, `s`, `m`; a bare number is milliseconds); `N%` is a percentage of
 * the field's natural total: `agents.total` for agents; `events.generated` for the events accepted,
 * written and dropped (`events.droppedBy.*` too); `events.written` for the events received and lost.
 *
 * @module
 */
import { ToolError } from '../errors.js';
import { FleetMetrics, LatencyHistogram } from './metrics.js';
import { createReport } from './report.js';
import type { FleetReport } from './report.js';

/** A comparison of a {@link Threshold}. */
export type ThresholdOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** One parsed `--threshold`. */
export interface Threshold {
  /** The expression as written (trimmed). */
  expression: string;
  /** The report field, a dotted path as written (`failover.p99`). */
  field: string;
  /** The comparison. */
  op: ThresholdOp;
  /** The limit, in milliseconds for a time, in percent for `%`, as written otherwise. */
  value: number;
  /** `ms` for a time, `%` for a percentage of the natural total, `''` for a plain number. */
  unit: 'ms' | '%' | '';
}

/** The judgement of one {@link Threshold}. */
export interface Verdict {
  /** The expression as written. */
  threshold: string;
  /** What was measured, in the threshold's unit (ms, percent or a count); `null` when the run could not measure it. */
  measured: number | null;
  /** The measured value as shown in the verdict table: `1.84 s`, `99.6 % (996 of 1000)`, `0`. */
  shown: string;
  /** Whether it passed. A value that could not be measured fails. */
  pass: boolean;
  /** Why, when it needs saying: `not measured in this run`, `no samples`. */
  note?: string;
}

/** What `--threshold` made of a run, in the report as `verdicts`. */
export interface Verdicts {
  /** Whether every threshold passed. */
  passed: boolean;
  /** One per threshold, in the order given. */
  results: Verdict[];
  /** Set when `--abort-on-fail` ended the run early: the threshold and when, in ms since the start. */
  aborted?: { threshold: string; atMs: number };
}

/**
 * A threshold that cannot be parsed or names no report field: an `ERR_USAGE` {@link ToolError} that
 * says which expression, where in it (1-based column) and what to write.
 */
export class ThresholdError extends ToolError {
  /** The expression at fault. */
  readonly expression: string;
  /** 1-based column of the problem in {@link ThresholdError.expression}, when it is one place. */
  readonly position: number | undefined;

  /**
   * @param message - what is wrong and what to write instead.
   * @param expression - the expression.
   * @param position - 1-based column.
   */
  constructor(message: string, expression: string, position?: number) {
    super(message, 'ERR_USAGE');
    this.name = 'ThresholdError';
    this.expression = expression;
    this.position = position;
  }
}

const OPS: readonly ThresholdOp[] = ['<=', '>=', '==', '!=', '<', '>'];
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
/** The fields a percentage is taken of, tried in order among the field's siblings. */
const NATURAL_TOTALS = ['total', 'generated'];
/** Fields whose natural total is not a sibling named in {@link NATURAL_TOTALS}: what reached the managers is a share of what was written. */
const FIELD_TOTALS: Record<string, string> = {
  'events.received': 'events.written',
  'events.lost': 'events.written',
  'events.droppedBy': 'events.generated',
};
/** Fields of report format 1, and what to write instead. */
const RENAMED: Record<string, string> = {
  'events.sent': 'events.generated (it counted the events generated; events.accepted and events.written count what the buffers took and what went on the wire)',
};
const EXAMPLE = 'write FIELD OP VALUE, e.g. failover.p99<2s or agents.connected>=99%';

/**
 * Parses one threshold expression and checks that its field exists in a report.
 *
 * @param text - `FIELD OP VALUE`.
 * @returns the threshold.
 * @throws {@link ThresholdError} naming the expression and the column: no field, no operator, no
 *   number, an unknown unit, text after the value, an unknown field (the known ones are listed), a
 *   unit that does not fit the field (`events.dropped<2s`, `failover.p99<5%`).
 */
export function parseThreshold(text: string): Threshold {
  const expression = text.trim();
  const fail = (what: string, at?: number): never => {
    throw new ThresholdError(
      `--threshold '${expression}': ${what}${at === undefined ? '' : ` at position ${at + 1}`}; ${EXAMPLE}`,
      expression,
      at === undefined ? undefined : at + 1,
    );
  };
  if (expression === '') fail('is empty');
  const fieldMatch = /^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*/.exec(expression);
  if (!fieldMatch) return fail('expected a report field', 0);
  const field = fieldMatch[0];
  const renamed = RENAMED[field];
  if (renamed !== undefined) throw new ThresholdError(`--threshold '${expression}': '${field}' was renamed: write ${renamed}`, expression, 1);
  let i = field.length;
  while (expression[i] === ' ') i++;
  const op = OPS.find((o) => expression.startsWith(o, i));
  if (op === undefined) {
    if (expression[i] === '=') return fail(`'=' is not a comparison (write ==)`, i);
    return fail(`expected a comparison (<, <=, >, >=, ==, !=) after '${field}'`, i);
  }
  i += op.length;
  while (expression[i] === ' ') i++;
  const num = /^\d+(?:\.\d+)?|^\.\d+/.exec(expression.slice(i));
  if (!num) return fail(`expected a number after '${op}'`, i);
  const value = Number(num[0]);
  i += num[0].length;
  const unitText = /^[A-Za-z%]*/.exec(expression.slice(i))![0];
  let unit: Threshold['unit'] = '';
  let scaled = value;
  if (unitText === '%') unit = '%';
  else if (unitText !== '') {
    const factor = TIME_UNITS[unitText];
    if (factor === undefined) return fail(`unknown unit '${unitText}' (use us, ms, s, m or %)`, i);
    unit = 'ms';
    scaled = value * factor;
  }
  const unitAt = i;
  i += unitText.length;
  while (expression[i] === ' ') i++;
  if (i < expression.length) return fail(`unexpected '${expression.slice(i)}'`, i);
  const threshold: Threshold = { expression, field, op, value: scaled, unit };
  checkField(threshold, unitAt);
  return threshold;
}

/**
 * Parses a list of threshold expressions (repeated `--threshold`, a scenario's `thresholds`).
 *
 * @param list - the expressions.
 * @returns the thresholds, in order.
 * @throws {@link ThresholdError} for the first bad one.
 */
export function parseThresholds(list: readonly string[]): Threshold[] {
  return list.map(parseThreshold);
}

/** A report with every field at zero: the shape that field names are checked against before a run. */
let template: FleetReport | undefined;
function reportTemplate(): FleetReport {
  template ??= createReport({ metrics: new FleetMetrics(), startedAt: 0, durationMs: 0, config: {}, agents: { total: 0, connected: 0 }, distribution: {} });
  return template;
}

/** Fields never judged: identity, settings, raw data. */
const SKIPPED = new Set(['format', 'version', 'startedAt', 'config', 'shard', 'shards', 'timeline', 'timelineBucketMs', 'histograms', 'chaos', 'limits', 'verdicts', 'warnings', 'runId']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isLatency(v: unknown): v is Record<string, number> {
  return isRecord(v) && typeof v.p50Ms === 'number' && typeof v.count === 'number';
}

/** Records whose keys depend on the run (node names, causes, error codes): any key is a field, 0 when absent. */
function isOpenRecord(path: string, v: unknown): boolean {
  return isRecord(v) && ['distribution', 'lostExplained', 'errors'].includes(path);
}

/**
 * The numeric fields of a report a threshold can name (`agents.connected`, `failover.p99`, ...).
 *
 * @param report - a report; by default an empty one (the fields every report has).
 * @returns the dotted names; latencies by their summary names without `Ms`.
 */
export function thresholdFields(report: FleetReport = reportTemplate()): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string): void => {
    if (!isRecord(v)) return;
    for (const [k, child] of Object.entries(v)) {
      const p = path ? `${path}.${k}` : k;
      if (path === '' && SKIPPED.has(k)) continue;
      if (isOpenRecord(p, child)) out.push(`${p}.NAME`);
      else if (typeof child === 'number' || child === null) out.push(p.replace(/Ms$/, ''));
      else walk(child, p);
    }
  };
  walk(report, '');
  return out;
}

interface Resolved {
  /** The value, `null` when the run could not measure it. */
  value: number | null;
  /** Whether it is a time in milliseconds. */
  time: boolean;
  /** The natural total for `%`, when the field has one. */
  total?: number | null;
  /** The total's name, for the table. */
  totalName?: string;
  /** The latency had no samples. */
  empty?: boolean;
}

function unknownField(t: Threshold, report: FleetReport, why = 'is not a report field'): never {
  throw new ThresholdError(
    `--threshold '${t.expression}': '${t.field}' ${why}; known fields: ${thresholdFields(report).join(', ')}, and any percentile of a latency (connect.p95)`,
    t.expression,
    1,
  );
}

/** The number (or null) at a dotted path of a report. */
function numberAt(report: FleetReport, path: string): number | null {
  let v: unknown = report;
  for (const p of path.split('.')) v = isRecord(v) ? v[p] : undefined;
  return typeof v === 'number' ? v : null;
}

/** Finds a field of a report by its dotted name. */
function resolveField(t: Threshold, report: FleetReport): Resolved {
  // a percentile's digits may contain a dot (p99.9): it is the last segment
  const m = /^(.*?)\.(p\d+(?:\.\d+)?)$/.exec(t.field);
  const parts = m ? [...m[1]!.split('.'), m[2]!] : t.field.split('.');
  const leaf = parts.pop()!;
  let parent: unknown = report;
  let path = '';
  for (const p of parts) {
    if (path === '' && SKIPPED.has(p)) unknownField(t, report);
    parent = isRecord(parent) ? parent[p] : undefined;
    path = path ? `${path}.${p}` : p;
    if (!isRecord(parent)) unknownField(t, report);
  }
  const obj = parent as Record<string, unknown>;
  if (path === '' && SKIPPED.has(leaf)) unknownField(t, report);
  if (isOpenRecord(path, obj)) {
    const v = obj[leaf];
    return { value: typeof v === 'number' ? v : 0, time: false };
  }
  const total = (): Pick<Resolved, 'total' | 'totalName'> => {
    const named = FIELD_TOTALS[`${path}.${leaf}`] ?? FIELD_TOTALS[path];
    if (named !== undefined) return { total: numberAt(report, named), totalName: named };
    const name = NATURAL_TOTALS.find((n) => n !== leaf && n in obj && (typeof obj[n] === 'number' || obj[n] === null));
    return name === undefined ? {} : { total: obj[name] as number | null, totalName: `${path}.${name}` };
  };
  const direct = obj[leaf];
  if (typeof direct === 'number' || direct === null) {
    return isLatency(obj) ? { value: direct, time: false } : { value: direct, time: /Ms$/.test(leaf), ...total() };
  }
  const ms = obj[`${leaf}Ms`];
  if (typeof ms === 'number' || ms === null) return { value: ms, time: true, empty: isLatency(obj) && obj.count === 0 };
  const pct = /^p(\d+(?:\.\d+)?)$/.exec(leaf);
  if (pct && isLatency(obj)) {
    const p = Number(pct[1]);
    if (p > 100) unknownField(t, report, `asks for a percentile above 100`);
    const histograms = report.histograms as unknown as Record<string, unknown>;
    const name = [path, path.replace(/s$/, '')].find((n) => typeof histograms[n] === 'string');
    if (name === undefined) unknownField(t, report, `has no histogram to compute ${leaf} from`);
    return { value: LatencyHistogram.decode(histograms[name] as string, `histograms.${name}`).percentile(p), time: true, empty: obj.count === 0 };
  }
  return unknownField(t, report);
}

/** Checks a threshold's field and unit against the report template (before a run). */
function checkField(t: Threshold, unitAt: number): void {
  const r = resolveField(t, reportTemplate());
  const wrongUnit = (what: string): never => {
    throw new ThresholdError(`--threshold '${t.expression}': ${what} at position ${unitAt + 1}; ${EXAMPLE}`, t.expression, unitAt + 1);
  };
  if (t.unit === 'ms' && !r.time) wrongUnit(`'${t.field}' is a count, not a time: give a number without a unit, or a percentage`);
  if (t.unit === '%' && r.time) wrongUnit(`'${t.field}' is a time: give it with a unit (ms, s) instead of %`);
  if (t.unit === '%' && r.totalName === undefined) wrongUnit(`'${t.field}' has no natural total to take a percentage of; give a count`);
}

function compare(measured: number, op: ThresholdOp, limit: number): boolean {
  switch (op) {
    case '<':
      return measured < limit;
    case '<=':
      return measured <= limit;
    case '>':
      return measured > limit;
    case '>=':
      return measured >= limit;
    case '==':
      return measured === limit;
    case '!=':
      return measured !== limit;
  }
}

const COUNT = new Intl.NumberFormat('en-US');

/**
 * Formats milliseconds for a verdict table.
 *
 * @param ms - milliseconds.
 * @returns `850 ms`, `1.84 s`, `12.5 s`.
 */
function showMs(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  return `${Number(ms.toFixed(2))} ms`;
}

/**
 * Judges one threshold against a report.
 *
 * @param t - the threshold.
 * @param report - the report.
 * @returns the verdict.
 * @throws {@link ThresholdError} when the report has no such field.
 */
export function judgeThreshold(t: Threshold, report: FleetReport): Verdict {
  const r = resolveField(t, report);
  let measured = r.value;
  let shown: string;
  if (measured === null) {
    return { threshold: t.expression, measured: null, shown: 'unknown', pass: false, note: `${t.field} was not measured in this run` };
  }
  if (t.unit === '%') {
    const total = r.total ?? null;
    if (total === null) {
      return { threshold: t.expression, measured: null, shown: 'unknown', pass: false, note: `${r.totalName} was not measured in this run` };
    }
    const raw = measured;
    measured = total > 0 ? (raw / total) * 100 : 0;
    shown = `${Number(measured.toPrecision(4))} % (${COUNT.format(raw)} of ${COUNT.format(total)})`;
  } else if (r.time) {
    shown = showMs(measured);
  } else {
    shown = COUNT.format(measured);
  }
  const v: Verdict = { threshold: t.expression, measured, shown, pass: compare(measured, t.op, t.value) };
  if (r.empty) v.note = 'no samples';
  return v;
}

/**
 * Judges every threshold against a report.
 *
 * @param thresholds - the thresholds.
 * @param report - the report.
 * @param aborted - set when `--abort-on-fail` ended the run.
 * @returns the verdicts.
 */
export function judgeThresholds(thresholds: readonly Threshold[], report: FleetReport, aborted?: Verdicts['aborted']): Verdicts {
  const results = thresholds.map((t) => judgeThreshold(t, report));
  const out: Verdicts = { passed: results.every((v) => v.pass) && aborted === undefined, results };
  if (aborted) out.aborted = aborted;
  return out;
}

/** The report fields known while the run goes on, each a count that only grows. */
export interface LiveCounts {
  /** `events.generated`. */
  'events.generated': number;
  /** `events.accepted`. */
  'events.accepted': number;
  /** `events.written`. */
  'events.written': number;
  /** `events.dropped`. */
  'events.dropped': number;
  /** `events.received`, `null` when unknown. */
  'events.received': number | null;
}

/** The fields `--abort-on-fail` can judge during a run. */
export const LIVE_FIELDS: readonly string[] = ['events.generated', 'events.accepted', 'events.written', 'events.dropped', 'events.received'];

/**
 * Whether a threshold can be judged during the run: an upper bound (`<`, `<=`, `==`) on an absolute
 * count that only grows ({@link LIVE_FIELDS}), so once it fails it cannot pass again.
 *
 * @param t - the threshold.
 * @returns true when `--abort-on-fail` can end the run on it.
 */
export function judgeableLive(t: Threshold): boolean {
  return t.unit === '' && LIVE_FIELDS.includes(t.field) && (t.op === '<' || t.op === '<=' || t.op === '==');
}

/**
 * The first live-judgeable threshold already failed, for `--abort-on-fail`.
 *
 * @param thresholds - the thresholds.
 * @param counts - the counts so far.
 * @returns the failed threshold, or undefined.
 */
export function failedLive(thresholds: readonly Threshold[], counts: LiveCounts): Threshold | undefined {
  return thresholds.find((t) => {
    if (!judgeableLive(t)) return false;
    const v = counts[t.field as keyof LiveCounts];
    if (typeof v !== 'number') return false;
    return t.op === '==' ? v > t.value : !compare(v, t.op, t.value);
  });
}

/**
 * Renders the verdict table printed after the summary.
 *
 * @param verdicts - the verdicts.
 * @returns the table, ending with a newline.
 */
export function renderVerdictTable(verdicts: Verdicts): string {
  const rows: [string, string, string][] = [['threshold', 'measured', 'verdict']];
  for (const v of verdicts.results) rows.push([v.threshold, measuredText(v), v.pass ? 'pass' : 'FAIL']);
  const w = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (l: string, m: string, r: string): string => `${l}${w.map((n) => '─'.repeat(n + 2)).join(m)}${r}`;
  const out = [line('┌', '┬', '┐')];
  for (const [i, r] of rows.entries()) {
    out.push(`│ ${r.map((c, j) => c.padEnd(w[j]!)).join(' │ ')} │`);
    if (i === 0) out.push(line('├', '┼', '┤'));
  }
  out.push(line('└', '┴', '┘'));
  return `${out.join('\n')}\nthresholds: ${verdictHeadline(verdicts)}\n`;
}

/**
 * What a verdict measured, as the verdict table shows it: the value, and why when it needs saying.
 *
 * @param v - one verdict.
 * @returns `1.84 s`, or `none (not measured in this run)`.
 */
export function measuredText(v: Verdict): string {
  return v.note ? `${v.shown} (${v.note})` : v.shown;
}

/**
 * The verdicts in one line: all passed, how many failed, or where `--abort-on-fail` ended the run.
 *
 * @param verdicts - the run's verdicts.
 * @returns `all 3 passed`, `1 of 3 failed`, `run aborted at 2.1 s because events.dropped==0 failed (--abort-on-fail)`.
 */
export function verdictHeadline(verdicts: Verdicts): string {
  const failed = verdicts.results.filter((v) => !v.pass).length;
  if (verdicts.aborted) return `run aborted at ${showMs(verdicts.aborted.atMs)} because ${verdicts.aborted.threshold} failed (--abort-on-fail)`;
  return failed > 0 ? `${failed} of ${verdicts.results.length} failed` : `all ${verdicts.results.length} passed`;
}
