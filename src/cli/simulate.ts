/**
 * `agentlink simulate`: run a fleet of simulated agents against managers, a manager cluster or an
 * embedded mock cluster, with live progress, a summary table and JSON/HTML reports.
 *
 * @module
 */
import { parseSimulateArgs, renderSummaryTable, simulate } from '../simulator/index.js';
import type { FleetReport, SimulateConfig, SimulateOptions, SimulationResult } from '../simulator/index.js';
import { EXIT_INTERRUPTED, EXIT_THRESHOLDS_FAILED } from './io.js';
import type { CliIo } from './io.js';
import { stringifyReport } from '../simulator/report.js';
import { renderVerdictTable } from '../simulator/thresholds.js';

export { EXIT_THRESHOLDS_FAILED } from './io.js';

/**
 * Runs a simulation for a CLI command and prints its outcome: the summary table and report paths
 * on stdout, problems on stderr (one line each). With `--report -` the JSON report is written to
 * stdout instead, and the summary table to stderr.
 *
 * @param command - the command name for message prefixes (`simulate`, `demo`).
 * @param config - the parsed flags.
 * @param io - streams, signal, cwd.
 * @param extra - programmatic options (the demo's chaos and timers), and `onReport`, called with the report before the summary is printed.
 * @returns the exit code: 0 success, 1 failure (no agent connected, a system limit, an accounting
 *   mismatch), 99 a threshold failed (the run itself did not fail), 130 interrupted.
 */
export async function runSimulation(
  command: string,
  config: SimulateConfig,
  io: CliIo,
  extra: SimulateOptions & { onReport?: (report: FleetReport) => void } = {},
): Promise<number> {
  const live = !config.quiet && io.stderr.isTTY === true;
  const held: string[] = [];
  const log = (line: string): void => {
    // on a terminal the progress block is redrawn in place: keep notes until it is done
    if (live) held.push(line);
    else if (!config.quiet) io.stderr.write(`agentlink ${command}: ${line}\n`);
  };
  const { onReport: _onReport, ...rest } = extra;
  // endpoint URLs and their warnings are needed while the run goes on: printed at once, even with --quiet
  const notice = (line: string): void => void io.stderr.write(`agentlink ${command}: ${line}\n`);
  const options: SimulateOptions = { ...rest, progress: io.stderr, log, notice };
  if (io.cwd !== undefined) options.cwd = io.cwd;
  if (io.signal !== undefined) options.signal = io.signal;
  // --report - : the JSON report is the standard output, so the summary table goes to standard error
  const reportToStdout = config.reportPath === '-';
  let result: SimulationResult;
  try {
    result = await simulate(reportToStdout ? { ...config, reportPath: undefined } : config, options);
  } finally {
    for (const line of held) io.stderr.write(`agentlink ${command}: ${line}\n`);
  }
  extra.onReport?.(result.report);
  const code = exitCode(result);
  // --report - and --json: standard output is for JSON only, everything for people goes to standard error
  const human = reportToStdout || config.json ? io.stderr : io.stdout;
  human.write(renderSummaryTable(result.report));
  if (result.verdicts) human.write(renderVerdictTable(result.verdicts));
  for (const w of result.report.warnings) human.write(`WARNING: ${w}\n`);
  if (reportToStdout) io.stdout.write(stringifyReport(result.report));
  if (result.reportPath) human.write(`JSON report: ${result.reportPath}\n`);
  if (result.htmlPath) human.write(`HTML report: ${result.htmlPath}\n`);
  for (const p of result.problems) io.stderr.write(`agentlink ${command}: ${p}\n`);
  if (config.json) io.stdout.write(`${JSON.stringify(jsonSummary(result, code), null, 2)}\n`);
  return code;
}

function exitCode(result: SimulationResult): number {
  if (result.interrupted) return EXIT_INTERRUPTED;
  if (result.problems.length > 0) return 1;
  return result.verdicts?.passed === false ? EXIT_THRESHOLDS_FAILED : 0;
}

/**
 * The final summary as `--json` prints it: the report without its raw data (timeline and
 * histograms, which `--report` keeps), with the problems, the exit code and the files written.
 *
 * @param result - the run's result.
 * @param code - the exit code.
 * @returns a JSON-serialisable object.
 */
export function jsonSummary(result: SimulationResult, code: number): Record<string, unknown> {
  const { timeline: _t, histograms: _h, ...summary } = result.report;
  return {
    ...summary,
    problems: result.problems,
    exitCode: code,
    ...(result.reportPath ? { reportPath: result.reportPath } : {}),
    ...(result.htmlPath ? { htmlPath: result.htmlPath } : {}),
  };
}

/**
 * Runs `agentlink simulate`.
 *
 * @param argv - the arguments after `simulate`.
 * @param io - streams, signal and working directory.
 * @returns the exit code (usage errors are thrown as `ToolError` and printed by the dispatcher with code 2).
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const config = parseSimulateArgs(argv, io.cwd !== undefined ? { cwd: io.cwd } : {});
  return runSimulation('simulate', config, io);
}
