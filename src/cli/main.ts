/**
 * The `agentlink` command line: dispatches to one module per subcommand, loaded on demand, and
 * turns errors into one line on stderr and an exit code.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error, 130 interrupted.
 *
 * @module
 */
import { AgentlinkError, ConfigError, ToolError } from '../errors.js';
import { agentlinkVersion, SIMULATE_USAGE, suggestFlag } from '../simulator/index.js';
import { createProcessIo, EXIT_INTERRUPTED } from './io.js';
import type { CliIo } from './io.js';

/** A subcommand entry point. */
export type CommandRun = (argv: string[], io: CliIo) => Promise<number>;

/** Exit code of a usage or configuration error. */
export const EXIT_USAGE = 2;
/** Exit code of a runtime failure. */
export const EXIT_FAILURE = 1;

/** Help text of `agentlink`. */
export const MAIN_USAGE = `Usage: agentlink <command> [flags]

Commands:
  demo                 embedded 3-node mock cluster, a few hundred agents, a node killed and restarted
  simulate             run a fleet of simulated agents against managers (agentlink simulate --help)
  manager              run a mock Wazuh manager (remoted and authd)
  enroll               enroll one agent with a manager's authd and print its client.keys line
  keys generate N      write N agent identities in client.keys format
  report merge A B...  merge the JSON reports of several shards
  help [command]       show help
  --version            print the version

Set AGENTLINK_DEBUG=1 to print stack traces.`;

const COMMANDS: Record<string, () => Promise<CommandRun>> = {
  demo: async () => (await import('./demo.js')).run,
  simulate: async () => (await import('./simulate.js')).run,
  enroll: async () => (await import('./enroll.js')).run,
  keys: async () => (await import('./keys.js')).run,
  report: async () => (await import('./report.js')).run,
  manager: async () => (await import('./manager.js')).runManager,
};

/** Help texts main prints itself for `<command> --help` and `help <command>`. */
const USAGES: Record<string, () => Promise<string>> = {
  demo: async () => (await import('./demo.js')).DEMO_USAGE,
  simulate: async () => SIMULATE_USAGE,
  enroll: async () => (await import('./enroll.js')).ENROLL_USAGE,
  keys: async () => (await import('./keys.js')).KEYS_USAGE,
  report: async () => (await import('./report.js')).REPORT_USAGE,
  manager: async () => (await import('./manager.js')).MANAGER_USAGE,
};

function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/**
 * Joins a negative number to the flag before it (`--agents -5` → `--agents=-5`): `parseArgs` takes
 * a value that starts with a dash for a flag and reports the flag as missing its value, where the
 * user gave one that the command should judge (and refuse with the valid range).
 */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === '--') return [...out, ...argv.slice(i)];
    if (a.startsWith('--') && !a.includes('=') && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

function isAbort(err: unknown, signal: AbortSignal | undefined): boolean {
  return (err instanceof AgentlinkError && err.code === 'ERR_ABORTED') || (signal?.aborted === true && (err as Error | undefined)?.name === 'AbortError');
}

/**
 * Runs the `agentlink` command line.
 *
 * @param argv - the arguments after the program name (`process.argv.slice(2)`).
 * @param io - streams, abort signal and environment; defaults to the process, with SIGINT/SIGTERM
 *   aborting the signal (a second SIGINT exits at once).
 * @returns the exit code: 0 success, 1 failure, 2 usage or configuration error, 130 interrupted.
 */
export async function main(argv: string[], io?: CliIo): Promise<number> {
  if (io) return dispatch(argv, io);
  const proc = createProcessIo();
  try {
    return await dispatch(argv, proc.io);
  } finally {
    proc.dispose();
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr.write(`${MAIN_USAGE}\n`);
    return EXIT_USAGE;
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    io.stdout.write(`${agentlinkVersion()}\n`);
    return 0;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    const topic = rest[0];
    if (topic !== undefined && USAGES[topic]) io.stdout.write(`${await USAGES[topic]()}\n`);
    else if (topic !== undefined && COMMANDS[topic]) return dispatch([topic, '--help'], io);
    else io.stdout.write(`${MAIN_USAGE}\n`);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    const hint = suggestFlag(command, Object.keys(COMMANDS))?.slice(2);
    io.stderr.write(`agentlink: unknown command '${command}'${hint ? `; did you mean ${hint}?` : ''} (agentlink help lists the commands)\n`);
    return EXIT_USAGE;
  }
  const usage = USAGES[command];
  if (usage && wantsHelp(rest)) {
    io.stdout.write(`${await usage()}\n`);
    return 0;
  }
  try {
    const run = await load();
    return await run(joinNegativeValues(rest), io);
  } catch (err) {
    return report(command, err, io);
  }
}

function report(command: string, err: unknown, io: CliIo): number {
  const env = io.env ?? process.env;
  const debug = env.AGENTLINK_DEBUG === '1' || env.AGENTLINK_DEBUG === 'true';
  const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();
  if (isAbort(err, io.signal)) {
    if (debug && err instanceof Error) io.stderr.write(`${err.stack ?? err.message}\n`);
    return EXIT_INTERRUPTED;
  }
  const message = err instanceof Error ? err.message : String(err);
  if ((err instanceof ToolError && err.code === 'ERR_USAGE') || err instanceof ConfigError) {
    io.stderr.write(`agentlink ${command}: ${oneLine(message)}\n`);
    if (debug && err instanceof Error) io.stderr.write(`${err.stack ?? ''}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof AgentlinkError) {
    io.stderr.write(`agentlink ${command}: ${oneLine(message)} (${err.code})\n`);
  } else {
    io.stderr.write(`agentlink ${command}: unexpected error: ${oneLine(message)}${debug ? '' : ' (set AGENTLINK_DEBUG=1 for the stack trace)'}\n`);
  }
  if (debug && err instanceof Error) io.stderr.write(`${err.stack ?? ''}\n`);
  return EXIT_FAILURE;
}
