/**
 * `agentlink report merge a.json b.json ... [-o merged.json] [--html merged.html]`: joins the
 * reports of several shards into the report of the whole fleet.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ToolError } from '../errors.js';
import {
  judgeThresholds,
  mergeReports,
  parseReport,
  parseThresholds,
  renderHtmlReport,
  renderSummaryTable,
  renderVerdictTable,
  stringifyReport,
  translateParseArgsError,
} from '../simulator/index.js';
import type { FleetReport } from '../simulator/index.js';
import { EXIT_THRESHOLDS_FAILED } from './io.js';
import type { CliIo } from './io.js';

/** Help text of `agentlink report`. */
export const REPORT_USAGE = `Usage: agentlink report merge A.json B.json ... [-o merged.json] [--html merged.html] [--threshold EXPR ...]

Merge the JSON reports of several shards (agentlink simulate --shard I/N --report) into the report
of the whole fleet: counts are summed, latency histograms merged exactly and percentiles
recomputed, distributions and timelines added up, and startSkewMs says how far apart the shards
really started (a warning above 1 s). Without -o the merged JSON goes to standard output (the
notes and the verdict table to standard error); with -o a summary table is printed instead.

  -o, --output FILE   merged JSON report
  --html FILE         merged HTML report
  --threshold EXPR    pass/fail criterion over the merged report, repeatable, as agentlink simulate
                      takes it (failover.p99<2s, agents.connected>=99%, events.lost<=0.1%); the
                      verdicts go into the merged report, and a failed one ends with exit code 99
                      after the reports are written`;

const OPTIONS = {
  output: { type: 'string', short: 'o' },
  html: { type: 'string' },
  threshold: { type: 'string', multiple: true },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw translateParseArgsError(err, Object.keys(OPTIONS), 'report');
  }
}

async function load(path: string, shown: string): Promise<FleetReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ToolError(`cannot read ${shown}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'ERR_USAGE', { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ToolError(`${shown} is not JSON (${(err as Error).message})`, 'ERR_USAGE', { cause: err });
  }
  return parseReport(json, shown);
}

async function write(path: string, shown: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (err) {
    throw new ToolError(`cannot write ${shown}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'ERR_USAGE', { cause: err });
  }
}

/**
 * Runs `agentlink report`.
 *
 * @param argv - the arguments after `report`.
 * @param io - streams and working directory.
 * @returns the exit code: 0 on success, 99 when a `--threshold` failed (after the reports are written).
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for a bad subcommand or threshold, an unreadable or invalid report, or reports that do not merge.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv);
  const [sub, ...files] = positionals;
  if (sub !== 'merge') {
    throw new ToolError(sub === undefined ? 'missing subcommand; write agentlink report merge A.json B.json' : `unknown subcommand '${sub}'; write agentlink report merge A.json B.json`, 'ERR_USAGE');
  }
  if (files.length === 0) throw new ToolError('give the reports to merge, e.g. agentlink report merge shard1.json shard2.json -o fleet.json', 'ERR_USAGE');
  const thresholds = parseThresholds(values.threshold ?? []);
  const cwd = io.cwd ?? process.cwd();
  const reports = await Promise.all(files.map((f) => load(resolve(cwd, f), f)));
  const merged = mergeReports(reports, files);
  const verdicts = thresholds.length > 0 ? judgeThresholds(thresholds, merged) : undefined;
  if (verdicts) merged.verdicts = verdicts;
  const json = stringifyReport(merged);
  if (values.output !== undefined) await write(resolve(cwd, values.output), values.output, json);
  if (values.html !== undefined) await write(resolve(cwd, values.html), values.html, renderHtmlReport(merged, { title: 'agentlink fleet report (merged)' }));
  // without -o standard output is the JSON: everything for people goes to standard error
  const human = values.output === undefined ? io.stderr : io.stdout;
  if (values.output === undefined) io.stdout.write(json);
  else io.stdout.write(renderSummaryTable(merged));
  if (reports.length > 1) human.write(`shards started ${merged.startSkewMs} ms apart (startSkewMs)\n`);
  for (const w of merged.warnings) human.write(`WARNING: ${w}\n`);
  if (verdicts) human.write(renderVerdictTable(verdicts));
  return verdicts?.passed === false ? EXIT_THRESHOLDS_FAILED : 0;
}
