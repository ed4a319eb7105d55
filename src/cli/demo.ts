/**
 * `agentlink demo` (what `npm start` runs): an embedded 3-node mock cluster, a few hundred agents
 * spread over it by their server lists, the busiest node killed mid-run and restarted, a
 * rebalance, live progress, a summary table, and `report.html` / `report.json` in the current
 * directory. Needs nothing but `npm ci`, and finishes in well under a minute.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { ToolError } from '../errors.js';
import { parseSimulateArgs, translateParseArgsError } from '../simulator/index.js';
import type { SimulateConfig, SimulateOptions } from '../simulator/index.js';
import { lbAvailability } from '../testing/index.js';
import { runSimulation } from './simulate.js';
import type { CliIo } from './io.js';

/** Help text of `agentlink demo`. */
export const DEMO_USAGE = `Usage: agentlink demo [--agents N] [--lb auto|haproxy|nginx|none] [--quiet]

Runs 300 simulated agents (default) against an embedded 3-node mock cluster for 36 seconds: the
busiest node is killed at 10 s and restarted at 20 s, the cluster is rebalanced at 24 s. Writes
report.html and report.json in the current directory.

--lb auto (the default) puts HAProxy (balance leastconn) in front of the cluster when it is
installed; without a balancer every agent has the cluster's nodes as its server list, rotated so
agent i starts at node i mod 3.`;

/**
 * The demo's chaos, in the `--chaos` form every run takes: the busiest node dies at 10 s, comes back
 * at 20 s, and the cluster is rebalanced at 24 s.
 */
export const DEMO_CHAOS = 'kill:busiest@10s,restart:last-killed@20s,rebalance@24s';
const DURATION = '36s';

/**
 * The demo's run: 3 nodes, short timers, its chaos, and the reports in the current directory.
 *
 * @param agents - `--agents`.
 * @param lb - the balancer in front of the cluster, if any.
 * @param quiet - `--quiet`.
 * @returns the configuration, as `simulate` would parse it.
 */
export function demoConfig(agents: string, lb: 'haproxy' | 'nginx' | undefined, quiet: boolean): SimulateConfig {
  return parseSimulateArgs([
    ...['--agents', agents, '--cluster', '3', '--duration', DURATION, '--notify', '2s', '--time-reconnect', '6s'],
    ...['--ramp', '150/s', '--eps', '2', '--workload', 'mixed', '--drain', '3s'],
    ...['--report', 'report.json', '--html', 'report.html', '--chaos', DEMO_CHAOS],
    ...(lb ? ['--lb', lb] : []),
    ...(quiet ? ['--quiet'] : []),
  ]);
}

/** What the demo adds in code: short timers so the story fits in half a minute (two tries 1.5 s apart, then the next node), jitter, fast rebalance chunks. */
export const DEMO_OPTIONS = {
  serverOptions: { maxRetries: 2, retryInterval: 1500 },
  client: { reconnect: { strategy: 'wazuh', jitter: 0.5 } },
  rebalance: { chunkSize: 50, chunkDelay: 500 },
} as const satisfies SimulateOptions;

/**
 * Runs `agentlink demo`.
 *
 * @param argv - the arguments after `demo`.
 * @param io - streams, signal and working directory.
 * @returns the exit code.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  // `--help` never reaches here: the dispatcher prints DEMO_USAGE before any flag is checked
  let values: { agents?: string; lb?: string; quiet?: boolean };
  try {
    values = parseArgs({
      args: argv,
      options: { agents: { type: 'string' }, lb: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw translateParseArgsError(err, ['agents', 'lb', 'quiet', 'help'], 'demo');
  }
  const lbChoice = values.lb ?? 'auto';
  if (!['auto', 'haproxy', 'nginx', 'none'].includes(lbChoice)) {
    throw new ToolError(`--lb '${lbChoice}' is not one of auto, haproxy, nginx, none`, 'ERR_USAGE');
  }
  let lb: 'haproxy' | 'nginx' | undefined;
  if (lbChoice === 'haproxy' || lbChoice === 'nginx') lb = lbChoice;
  else if (lbChoice === 'auto' && (await lbAvailability()).haproxy !== undefined) lb = 'haproxy';
  const config = demoConfig(values.agents ?? '300', lb, values.quiet === true);
  if (!values.quiet) {
    const [kill, restart, rebalance] = config.chaos.map((c) => c.atMs / 1000);
    io.stderr.write(
      `agentlink demo: ${config.agents} agents, 3-node mock cluster on 127.0.0.1${lb ? ` behind ${lb}` : ' (agents with a rotated server list)'}; ` +
        `the busiest node dies at ${kill}s, comes back at ${restart}s, rebalance at ${rebalance}s; ${DURATION} in all\n`,
    );
  }
  let killed: string | undefined;
  let endDistribution: Record<string, number> | undefined;
  const code = await runSimulation('demo', config, io, {
    onReport: (report) => {
      killed = report.chaos.find((c) => c.action === 'kill')?.node;
      endDistribution = report.distribution;
    },
    ...DEMO_OPTIONS,
  });
  if (killed !== undefined && endDistribution !== undefined) {
    const dist = Object.entries(endDistribution)
      .map(([n, c]) => `${n}=${c}`)
      .join(' ');
    if (lb) {
      io.stdout.write(`${killed} came back empty; the rebalance told the excess agents to reconnect and ${lb} sent them to the least loaded node: ${dist}\n`);
    } else {
      io.stdout.write(
        `${killed} came back empty and stays light (${dist}): agents with a server list stay on the node they failed over to, and ` +
          `#!-force_reconnect brings them back to it, since a Wazuh agent retries its current server first. With a balancer ` +
          `(apt-get install haproxy, then agentlink demo --lb haproxy) the rebalance evens the nodes out.\n`,
      );
    }
  }
  return code;
}
