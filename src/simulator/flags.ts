/**
 * The `agentlink simulate` flags: parsed strictly with `node:util` `parseArgs` into a typed
 * {@link SimulateConfig}. Every bad input is a {@link agentlink!ToolError} `ERR_USAGE` with one line that
 * names the flag and says what to write instead.
 *
 * @module
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import {
  DEFAULT_CRYPTO_METHOD,
  DEFAULT_ENROLLMENT_PORT,
  DEFAULT_JITTER,
  DEFAULT_NOTIFY_TIME,
  DEFAULT_PORT,
  DEFAULT_PROTOCOL,
  DEFAULT_RECONNECT_STRATEGY,
  DEFAULT_TIME_RECONNECT,
  MAX_COMPRESSION_LEVEL,
} from '../config/index.js';
import { formatChaosStep, needsFaultPaths, parseChaos } from './chaos/steps.js';
import type { ChaosStep } from './chaos/steps.js';
import { parseChoice, parseFlagDuration, parseInteger, parseNumber, translateParseArgsError, usage } from './flag-values.js';
import { LIVE_FIELDS, judgeableLive, parseThresholds } from './thresholds.js';
import type { Threshold } from './thresholds.js';
import { loadScenario, withScenario } from './scenario.js';
import { parseStartAt } from './start-at.js';
import { LoadSchedule, parseStage } from './stages.js';
import type { Stage } from './stages.js';

export type { ChaosStep } from './chaos/steps.js';

/** A `host:port` address. */
export interface HostPort {
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** Port number. */
  port: number;
}

/** Where the simulated agents connect. Exactly one is given. */
export type SimulateTarget =
  /** `--manager host:port` (repeatable): an ordered server list. */
  | { kind: 'managers'; servers: HostPort[] }
  /** `--cluster N`: an embedded mock cluster of N nodes (`node1`…`nodeN`) on 127.0.0.1. */
  | { kind: 'cluster'; nodes: number }
  /** `--config ossec.conf`: the servers (and options) of an agent configuration file. */
  | { kind: 'config'; path: string };

/** The parsed `agentlink simulate` flags. Times in milliseconds. */
export interface SimulateConfig {
  /** `--agents N`: fleet size (all shards together). */
  agents: number;
  /** `--manager`, `--cluster` or `--config`. */
  target: SimulateTarget;
  /**
   * Rotate each agent's server list so agent i starts at server i mod N (`--no-spread` turns it off).
   * @default true
   */
  spread: boolean;
  /** `--keys client.keys`: identities to use (agent i takes line i). */
  keysFile?: string;
  /** `--enroll host:port`: enroll the agents with this authd first (port defaults to 1515). */
  enroll?: HostPort;
  /** `--password-file F`: authd password file for enrollment. */
  passwordFile?: string;
  /** `--groups g1,g2`: groups requested at enrollment. */
  groups: string[];
  /**
   * `--protocol`.
   * @default 'tcp'
   */
  protocol: 'tcp' | 'udp';
  /**
   * `--crypto`.
   * @default 'aes'
   */
  crypto: 'aes' | 'blowfish';
  /**
   * `--strategy`: the agents' reconnect strategy.
   * @default 'wazuh'
   */
  strategy: 'wazuh' | 'backoff';
  /**
   * `--compression-level 0..9`: zlib level of the agents' messages (`compressionLevel` of every
   * agent). 9 is Wazuh's; 0 sends stored blocks (no compression, less CPU per event).
   * @default 9
   */
  compressionLevel?: number;
  /**
   * `--jitter 0..1`: randomised fraction of each reconnect delay.
   * @default 0
   */
  jitter: number;
  /**
   * `--notify`: keepalive period.
   * @default 20000
   */
  notifyTimeMs: number;
  /**
   * `--time-reconnect`: silence after which an agent treats its server as lost.
   * @default 60000
   */
  timeReconnectMs: number;
  /**
   * `--ramp 500/s`: agents started per second; 0 starts them all at once.
   * @default 500
   */
  rampPerSecond: number;
  /**
   * `--eps`: events per second per agent; 0 sends none.
   * @default 1
   */
  eps: number;
  /**
   * `--workload`: `syslog`, `fim`, `mixed`, `mixed:syslog=9,fim=1` or a JSONL/log file path.
   * @default 'syslog'
   */
  workload: string;
  /**
   * `--duration`: run length; 0 runs until interrupted.
   * @default 60000
   */
  durationMs: number;
  /** `--chaos 'kill:node1@20s+10s,blackhole:node2@30s+5s'`: the chaos schedule, in time order (see {@link parseChaos}). */
  chaos: ChaosStep[];
  /**
   * `--workers N`: processes that share the agents.
   * @default 1
   */
  workers: number;
  /**
   * `--shard i/n`: run part i (1-based) of a fleet split into n parts.
   * @default { index: 1, count: 1 }
   */
  shard: { index: number; count: number };
  /** `--report out.json`: where to write the JSON report. */
  reportPath?: string;
  /** `--html report.html`: where to write the HTML report. */
  htmlPath?: string;
  /** `--prometheus PORT`: serve Prometheus metrics on 127.0.0.1:PORT (0 picks a port). */
  prometheusPort?: number;
  /** `--prometheus-host ADDRESS`: where the Prometheus endpoint listens instead of 127.0.0.1 (a warning is printed). */
  prometheusHost?: string;
  /** `--dashboard PORT`: serve the live dashboard on 127.0.0.1:PORT (0 picks a port). */
  dashboardPort?: number;
  /** `--dashboard-host ADDRESS`: where the dashboard listens instead of 127.0.0.1 (a warning is printed). */
  dashboardHost?: string;
  /** `--lb haproxy|nginx`: put a real load balancer in front of the embedded cluster. */
  lb?: 'haproxy' | 'nginx';
  /**
   * `--seed`: seed of every random choice (workloads, jitter), so runs and shards repeat.
   * @default 'agentlink'
   */
  seed: string;
  /** `--quiet`: no live progress. */
  quiet: boolean;
  /**
   * `--source-ips N`: spread the agents' source addresses over N addresses of 127.0.0.0/8
   * (127.0.0.1, 127.0.0.2, …), past the ephemeral-port limit of one address; 0 lets the OS choose.
   * @default 0
   */
  sourceIps: number;
  /**
   * `--drain`: time given to the agents to flush their buffers at the end.
   * @default 5000
   */
  drainMs: number;
  /**
   * `--stage DURATION[,agents=N][,eps=N]` (repeatable; a scenario's `stages`): agents ramp linearly
   * to each stage's `agents` (0 before the first) and send its `eps`; the run lasts as long as the
   * stages together (see {@link LoadSchedule}).
   */
  stages?: Stage[];
  /** `--out FILE.ndjson`: the per-second time series, one JSON line a second, written as the run goes. */
  outPath?: string;
  /** `--scenario FILE`: the scenario file the run was read from (its fields under the flags given). */
  scenario?: string;
  /**
   * The fields given on the command line (or in a scenario file), whatever their value; the others
   * hold defaults. With `--config`, a given field overrides the ossec.conf, a default does not.
   * Absent (a configuration built by hand): a value other than the default counts as given.
   */
  given?: (keyof SimulateConfig)[];
  /** `--threshold EXPR` (repeatable): pass/fail criteria over the report's fields (thresholds.ts). */
  thresholds: Threshold[];
  /** `--abort-on-fail`: end the run as soon as a threshold that can be judged during the run fails. */
  abortOnFail: boolean;
  /** `--run-id ID`: the run's id in the report; the shards of one fleet must share it (default: a random UUID per run). */
  runId?: string;
  /**
   * `--start-at TIME` (ISO 8601 with a zone, or `+30s` from when the flags were parsed): the run
   * gets ready, then waits until this time (milliseconds since the epoch) before it starts the
   * agents and the run clock, so the shards of one fleet start together.
   */
  startAt?: number;
  /** `--json`: print the final summary as JSON on standard output (the tables go to standard error). */
  json: boolean;
  /**
   * `--connect-deadline`: end the run (exit code 1) when no agent has connected after this long;
   * 0 waits the whole run. With enrollment, the wait after enrollment is added.
   * @default 15000
   */
  connectDeadlineMs: number;
}

/** Default `--ramp`, agents per second. */
export const DEFAULT_RAMP_PER_SECOND = 500;
/** Default `--eps`, events per second per agent. */
export const DEFAULT_EPS = 1;
/** Default `--duration`, milliseconds. */
export const DEFAULT_DURATION = 60_000;
/** Default `--drain`, milliseconds. */
export const DEFAULT_DRAIN = 5_000;
/** Default `--connect-deadline`, milliseconds. */
export const DEFAULT_CONNECT_DEADLINE = 15_000;
/** Default `--seed`. */
export const DEFAULT_SEED = 'agentlink';
/** Largest `--agents`. */
export const MAX_AGENTS = 1_000_000;
/** Largest `--cluster`. */
export const MAX_CLUSTER_NODES = 64;
/** Largest `--workers`. */
export const MAX_WORKERS = 256;
/** Largest `--source-ips` (every address of 127.0.0.0/8 but the network and broadcast ones). */
export const MAX_SOURCE_IPS = 16_777_214;

/** Help text of `agentlink simulate`. */
export const SIMULATE_USAGE = `Usage: agentlink simulate --agents N (--manager HOST:PORT ... | --cluster N | --config ossec.conf) [flags]
       agentlink simulate --scenario FILE [flags]

Run a fleet of simulated Wazuh agents against a manager, a manager cluster or an embedded mock cluster.

Scenario:
  --scenario FILE         the run's settings from a JSON or YAML file, one field per flag (see
                          examples/scenario.yaml); flags given on the command line override it
Target (exactly one):
  --manager HOST:PORT     manager address; repeat for an ordered failover list (port defaults to 1514)
  --cluster N             embedded mock cluster of N nodes (node1..nodeN) on 127.0.0.1
  --config FILE           servers and options from an agent ossec.conf
Agents:
  --agents N              number of agents (required; all shards together)
  --keys FILE             client.keys to take identities from (one line per agent)
  --enroll HOST:PORT      enroll the agents with authd first (port defaults to 1515)
  --password-file FILE    authd password file
  --groups G1,G2          groups to request at enrollment
  --no-spread             give every agent the same server order (default: agent i starts at server i mod N)
  --protocol tcp|udp      transport (default tcp)
  --crypto aes|blowfish   cipher (default aes)
  --strategy wazuh|backoff  reconnect strategy (default wazuh)
  --compression-level N   zlib level 0..9 of the agents' messages (default 9, Wazuh's); 0 sends them
                          uncompressed: more bytes, less CPU per event
  --jitter 0..1           randomised fraction of each reconnect delay (default 0)
  --notify DURATION       keepalive period (default 20s)
  --time-reconnect DURATION  silence before a server counts as lost (default 60s)
  --ramp N/s              agents started per second, 0 for all at once (default 500/s)
  --source-ips N          spread source addresses over 127.0.0.1..N (default: the OS chooses)
Load and schedule:
  --eps N                 events per second per agent, may be fractional (default 1)
  --workload KIND         syslog | fim | mixed | mixed:syslog=9,fim=1 | a JSONL or log file (default syslog)
  --duration DURATION     run length, 0 until interrupted (default 60s)
  --stage DUR[,agents=N][,eps=N]  a load stage, repeatable, in order: agents ramp linearly to N
                          (from 0 before the first stage), each sends eps events/s; the stages
                          replace --duration (and --ramp when they set agents), e.g.
                          --stage 30s,agents=1000,eps=1 --stage 1m --stage 10s,eps=10 --stage 30s,agents=0
  --drain DURATION        time to flush buffers at the end (default 5s)
  --chaos STEPS           ACTION:NODE@TIME[+FOR], comma-separated (needs --cluster), e.g.
                          'kill:node1@20s+10s,blackhole:node2@30s+5s,rebalance@50s'; actions: kill,
                          restart, hang, blackhole, latency:NODE=300ms, reset, cut[:NODE=up|down],
                          force-reconnect:25 (or :5%), rebalance, add:node4 (a node joins; behind
                          --lb haproxy it is added as a server and gets its share), remove:NODE (a
                          node leaves, its agents moved off first); NODE may be busiest or last-killed
  --lb haproxy|nginx      real load balancer in front of the embedded cluster (needs --cluster)
  --seed TEXT             seed of all random choices (default agentlink)
Scale out:
  --workers N             worker processes sharing the agents (default 1)
  --shard I/N             run part I of N (1-based), e.g. --shard 1/2 on one machine and 2/2 on another
  --run-id ID             the run's id in the report; give all shards of one fleet the same (default: random)
  --start-at TIME         get ready, then wait until TIME to start the agents: an ISO 8601 time with its
                          zone (2026-12-06T18:00:00Z) or a delay (+30s); give every shard the same time
                          to start them together (at most 1 s in the past, 24 h ahead)
Verdicts:
  --threshold EXPR        pass/fail criterion over a report field, repeatable: failover.p99<2s,
                          agents.connected>=99%, events.dropped==0, events.lost<=0.1%, connect.p95<500ms;
                          a failed one ends with exit code 99 after the report is written
  --connect-deadline DURATION  stop early (exit 1) when no agent has connected by then, naming the
                          most common errors; 0 waits the whole run (default 15s)
  --abort-on-fail         end the run as soon as a threshold on a growing count (events.generated,
                          .accepted, .written, .dropped, .received with <, <= or ==) fails
Output:
  --report FILE           JSON report; - writes it to standard output (the summary table then goes to standard error)
  --html FILE             self-contained HTML report with plots
  --out FILE.ndjson       the per-second time series (connected, reconnecting, events, per node), one
                          JSON line a second, written as the run goes
  --prometheus PORT       Prometheus metrics on 127.0.0.1:PORT
  --dashboard PORT        live dashboard on http://127.0.0.1:PORT/ (charts, /events stream, /metrics)
  --dashboard-host ADDR   listen on ADDR instead of 127.0.0.1 (shows agent names and cluster addresses)
  --prometheus-host ADDR  the same for --prometheus
  --json                  print the final summary as JSON on standard output; tables and notes go to standard error
  --quiet                 no live progress

Durations: 500ms, 30s, 1.5m, 2h, 1h30m.`;

const OPTIONS = {
  agents: { type: 'string' },
  manager: { type: 'string', multiple: true },
  cluster: { type: 'string' },
  'no-spread': { type: 'boolean' },
  config: { type: 'string' },
  keys: { type: 'string' },
  enroll: { type: 'string' },
  'password-file': { type: 'string' },
  groups: { type: 'string' },
  protocol: { type: 'string' },
  crypto: { type: 'string' },
  strategy: { type: 'string' },
  jitter: { type: 'string' },
  'compression-level': { type: 'string' },
  notify: { type: 'string' },
  'time-reconnect': { type: 'string' },
  ramp: { type: 'string' },
  eps: { type: 'string' },
  workload: { type: 'string' },
  duration: { type: 'string' },
  chaos: { type: 'string', multiple: true },
  workers: { type: 'string' },
  shard: { type: 'string' },
  report: { type: 'string' },
  html: { type: 'string' },
  prometheus: { type: 'string' },
  'prometheus-host': { type: 'string' },
  dashboard: { type: 'string' },
  'dashboard-host': { type: 'string' },
  lb: { type: 'string' },
  seed: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'source-ips': { type: 'string' },
  drain: { type: 'string' },
  threshold: { type: 'string', multiple: true },
  'abort-on-fail': { type: 'boolean' },
  scenario: { type: 'string' },
  'connect-deadline': { type: 'string' },
  stage: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'run-id': { type: 'string' },
  'start-at': { type: 'string' },
  out: { type: 'string' },
} as const;

/**
 * Parses `host:port`, `[v6]:port`, `host` or a bare IPv6 address.
 *
 * @param text - the value.
 * @param flag - the flag, for errors.
 * @param defaultPort - port when none is given.
 * @returns host and port.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for an empty host or a bad port.
 */
export function parseHostPort(text: string, flag: string, defaultPort: number): HostPort {
  const t = text.trim();
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(t);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if (isIP(t) === 6) {
    host = t;
  } else {
    const colon = t.lastIndexOf(':');
    if (colon >= 0 && t.indexOf(':') !== colon) {
      throw usage(`${flag} '${text}': put an IPv6 address in brackets, e.g. ${flag} [::1]:${defaultPort}`);
    }
    host = colon < 0 ? t : t.slice(0, colon);
    portText = colon < 0 ? undefined : t.slice(colon + 1);
  }
  if (host === '' || /\s/.test(host)) throw usage(`${flag} '${text}' has no host; write ${flag} HOST:PORT, e.g. ${flag} 127.0.0.1:${defaultPort}`);
  const port = portText === undefined ? defaultPort : parseInteger(portText, `${flag} port`, 1, 65535, String(defaultPort));
  return { host, port };
}

/** An address to listen on: an IP address or `localhost`, and only with the port flag it belongs to. */
function parseListenHost(text: string, flag: string, port: string | undefined, portFlag: string): string {
  if (port === undefined) throw usage(`${flag} ${text}: give ${portFlag} PORT too (the address is where ${portFlag} listens)`);
  if (text !== 'localhost' && isIP(text) === 0) throw usage(`${flag} ${text}: not an IP address; e.g. ${flag} 0.0.0.0 to listen on every interface`);
  return text;
}

function parseRamp(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|m|min))?\s*$/.exec(text);
  if (!m) throw usage(`--ramp '${text}' must be agents per second like 500/s (or 30/m; 0 starts all agents at once)`);
  const n = Number(m[1]);
  return m[2] === 'm' || m[2] === 'min' ? n / 60 : n;
}

function parseShard(text: string): { index: number; count: number } {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw usage(`--shard '${text}' must be I/N with 1 <= I <= N, e.g. --shard 1/2`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) {
    throw usage(`--shard '${text}' must be I/N with 1 <= I <= N (shards are numbered from 1), e.g. --shard ${Math.min(Math.max(index, 1), Math.max(count, 1))}/${Math.max(count, 1)}`);
  }
  return { index, count };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Parses the `agentlink simulate` flags.
 *
 * @param argv - the arguments after `simulate`.
 * @param options - `cwd`: base of a relative `--scenario` path; `now`: the wall clock `--start-at +30s`
 *   counts from and a past `--start-at` is judged against (default `Date.now()`).
 * @returns the typed configuration, with defaults filled in.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` with one line naming the flag at fault and the fix: unknown
 *   flag, missing or malformed value, no target or two targets, `--shard 3/2`, chaos on an unknown
 *   node or without `--cluster`, flags that need another flag, a `--start-at` in the past or more than a day ahead.
 */
export function parseSimulateArgs(argv: readonly string[], options: { cwd?: string; now?: number } = {}): SimulateConfig {
  const cli = parseSimulateValues(argv);
  const now = options.now ?? Date.now();
  const build = (v: ReturnType<typeof parseSimulateValues>): SimulateConfig => buildConfig(v, now);
  if (cli.scenario === undefined) return build(cli);
  const scenario = loadScenario(cli.scenario, options.cwd ?? process.cwd(), OPTIONS);
  return withScenario(cli, scenario, build);
}

function buildConfig(v: ReturnType<typeof parseSimulateValues>, now: number): SimulateConfig {

  const stages = v.stage?.map((text, i) => parseStage(text, i + 1));
  const schedule = stages ? new LoadSchedule({ rampPerSecond: 0, eps: 0, stages }) : undefined;
  const stageAgents = stages && stages.some((st) => st.agents !== undefined) ? Math.max(...stages.map((st) => st.agents ?? 0)) : undefined;
  if (v.agents === undefined && stageAgents === undefined) throw usage('--agents is required: say how many agents to run, e.g. --agents 1000');
  const agents = v.agents === undefined ? stageAgents! : parseInteger(v.agents, '--agents', 1, MAX_AGENTS, '1000');
  if (stageAgents !== undefined && agents !== stageAgents) {
    throw usage(`--agents ${agents} but the stages run at most ${stageAgents} agents: drop --agents (the stages set the fleet size) or change the stages`);
  }
  if (stageAgents === 0) throw usage('--stage: no stage runs any agent; give a stage agents=N above 0');
  if (stages && v.duration !== undefined) throw usage('--duration cannot be used with --stage: the run lasts as long as its stages together');
  if (stages && v.ramp !== undefined && stageAgents !== undefined) throw usage('--ramp cannot be used with stages that set agents: the stages ramp the agents');

  const targets = [v.manager !== undefined && '--manager', v.cluster !== undefined && '--cluster', v.config !== undefined && '--config'].filter(
    (t): t is string => typeof t === 'string',
  );
  if (targets.length === 0) {
    throw usage('no target: give --manager HOST:PORT, --cluster N or --config ossec.conf');
  }
  if (targets.length > 1) throw usage(`${targets.join(' and ')} both name a target; give exactly one of --manager, --cluster, --config`);

  let target: SimulateTarget;
  if (v.manager !== undefined) target = { kind: 'managers', servers: v.manager.map((m) => parseHostPort(m, '--manager', DEFAULT_PORT)) };
  else if (v.cluster !== undefined) target = { kind: 'cluster', nodes: parseInteger(v.cluster, '--cluster', 1, MAX_CLUSTER_NODES, '3') };
  else {
    if (v.config!.trim() === '') throw usage('--config needs the path of an ossec.conf file');
    target = { kind: 'config', path: v.config! };
  }

  const durationMs = schedule?.totalMs ?? (v.duration === undefined ? DEFAULT_DURATION : parseFlagDuration(v.duration, '--duration'));

  let chaos: ChaosStep[] = [];
  if (v.chaos !== undefined) {
    if (target.kind !== 'cluster') throw usage('--chaos needs --cluster N: chaos acts on the nodes of the embedded mock cluster');
    chaos = parseChaos(v.chaos.join(','), target.nodes);
    const late = durationMs > 0 ? chaos.find((c) => c.atMs >= durationMs) : undefined;
    if (late) {
      throw usage(`--chaos step ${formatChaosStep(late)} is not before the end of the run; raise --duration or move the step earlier`);
    }
  }

  let lb: SimulateConfig['lb'];
  if (v.lb !== undefined) {
    lb = parseChoice(v.lb, '--lb', ['haproxy', 'nginx'] as const);
    if (target.kind !== 'cluster') throw usage('--lb needs --cluster N: the load balancer is started in front of the embedded mock cluster');
  }

  let enroll: HostPort | undefined;
  if (v.enroll !== undefined) enroll = parseHostPort(v.enroll, '--enroll', DEFAULT_ENROLLMENT_PORT);
  if (v['password-file'] !== undefined && enroll === undefined && target.kind !== 'config') {
    throw usage('--password-file needs --enroll HOST:PORT (or --config with an <enrollment> section)');
  }
  if (v.groups !== undefined && enroll === undefined && target.kind !== 'config') {
    throw usage('--groups needs --enroll HOST:PORT (groups are requested at enrollment)');
  }
  if (target.kind === 'managers' && v.keys === undefined && enroll === undefined) {
    throw usage('--manager needs agent identities: give --keys client.keys (see agentlink keys generate) or --enroll HOST:PORT');
  }
  if (target.kind === 'cluster' && v.keys !== undefined) {
    throw usage('--keys cannot be used with --cluster: the embedded cluster generates its own keys; drop --keys or use --manager');
  }
  const groups = v.groups === undefined ? [] : v.groups.split(',').map((g) => g.trim());
  if (groups.some((g) => !/^[A-Za-z0-9._-]{1,255}$/.test(g))) {
    throw usage(`--groups '${v.groups}' must be comma-separated group names of letters, digits, '.', '_' and '-'`);
  }

  const sourceIps = v['source-ips'] === undefined ? 0 : parseInteger(v['source-ips'], '--source-ips', 1, MAX_SOURCE_IPS, '16');
  if (sourceIps > 0 && target.kind === 'managers') {
    const far = target.servers.find((s) => !isLoopback(s.host));
    if (far) throw usage(`--source-ips spreads over 127.0.0.0/8, which cannot reach ${far.host}; use it with --cluster or managers on 127.0.0.1`);
  }

  const config: SimulateConfig = {
    agents,
    target,
    spread: v['no-spread'] !== true,
    groups,
    protocol: v.protocol === undefined ? DEFAULT_PROTOCOL : parseChoice(v.protocol, '--protocol', ['tcp', 'udp'] as const),
    crypto: v.crypto === undefined ? DEFAULT_CRYPTO_METHOD : parseChoice(v.crypto, '--crypto', ['aes', 'blowfish'] as const),
    strategy:
      v.strategy === undefined ? DEFAULT_RECONNECT_STRATEGY : parseChoice(v.strategy, '--strategy', ['wazuh', 'backoff'] as const),
    jitter: v.jitter === undefined ? DEFAULT_JITTER : parseNumber(v.jitter, '--jitter', 0, 1, '0.2'),
    notifyTimeMs: v.notify === undefined ? DEFAULT_NOTIFY_TIME : positiveDuration(v.notify, '--notify'),
    timeReconnectMs: v['time-reconnect'] === undefined ? DEFAULT_TIME_RECONNECT : positiveDuration(v['time-reconnect'], '--time-reconnect'),
    rampPerSecond: v.ramp === undefined ? DEFAULT_RAMP_PER_SECOND : parseRamp(v.ramp),
    eps: v.eps === undefined ? DEFAULT_EPS : parseNumber(v.eps, '--eps', 0, 1_000_000, '1.5'),
    workload: v.workload ?? 'syslog',
    durationMs,
    chaos,
    workers: v.workers === undefined ? 1 : parseInteger(v.workers, '--workers', 1, MAX_WORKERS, '4'),
    shard: v.shard === undefined ? { index: 1, count: 1 } : parseShard(v.shard),
    seed: v.seed ?? DEFAULT_SEED,
    quiet: v.quiet === true,
    sourceIps,
    drainMs: v.drain === undefined ? DEFAULT_DRAIN : parseFlagDuration(v.drain, '--drain'),
    thresholds: parseThresholds(v.threshold ?? []),
    abortOnFail: v['abort-on-fail'] === true,
    json: v.json === true,
    connectDeadlineMs: v['connect-deadline'] === undefined ? DEFAULT_CONNECT_DEADLINE : parseFlagDuration(v['connect-deadline'], '--connect-deadline'),
  };
  if (config.json && v.report === '-') throw usage('--json and --report - both write to standard output; write the report to a file (--report out.json) or drop --json');
  if (config.abortOnFail && !config.thresholds.some(judgeableLive)) {
    throw usage(`--abort-on-fail needs a --threshold that can be judged during the run: an upper bound (<, <=, ==) on ${LIVE_FIELDS.join(', ')}, e.g. --threshold events.dropped==0`);
  }
  if (needsFaultPaths(chaos) && config.protocol === 'udp') {
    throw usage('--chaos blackhole, latency, reset and cut act on TCP paths through a fault proxy; use --protocol tcp or the kill, hang and restart steps');
  }
  if (lb === 'nginx' && chaos.some((s) => s.action === 'add')) {
    throw usage('--chaos add: nginx cannot learn of a new node while it runs (no runtime API); use --lb haproxy, which adds it as a server and moves its share of agents to it');
  }
  if (lb === 'haproxy' && config.protocol === 'udp') {
    throw usage('--lb haproxy balances TCP only; for UDP use --lb nginx (stream, listen … udp), or --protocol tcp');
  }
  if (config.workload.trim() === '') throw usage('--workload is empty; give syslog, fim, mixed or a file path');
  if (config.shard.count > agents) {
    throw usage(`--shard ${config.shard.index}/${config.shard.count} splits ${agents} agents into more shards than agents; use fewer shards`);
  }
  if (v['compression-level'] !== undefined) config.compressionLevel = parseCompressionLevel(v['compression-level']);
  if (v.keys !== undefined) config.keysFile = v.keys;
  if (enroll !== undefined) config.enroll = enroll;
  if (v['password-file'] !== undefined) config.passwordFile = v['password-file'];
  if (v.report !== undefined) config.reportPath = v.report;
  if (v['run-id'] !== undefined) {
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(v['run-id'])) throw usage(`--run-id '${v['run-id']}' must be 1 to 128 letters, digits, '.', '_', ':' or '-', e.g. --run-id nightly-2026-12-06`);
    config.runId = v['run-id'];
  }
  if (v['start-at'] !== undefined) config.startAt = parseStartAt(v['start-at'], now);
  if (v.html !== undefined) config.htmlPath = v.html;
  if (v.prometheus !== undefined) config.prometheusPort = parseInteger(v.prometheus, '--prometheus', 0, 65535, '9464');
  if (v.dashboard !== undefined) config.dashboardPort = parseInteger(v.dashboard, '--dashboard', 0, 65535, '8080');
  if (v['prometheus-host'] !== undefined) config.prometheusHost = parseListenHost(v['prometheus-host'], '--prometheus-host', v.prometheus, '--prometheus');
  if (v['dashboard-host'] !== undefined) config.dashboardHost = parseListenHost(v['dashboard-host'], '--dashboard-host', v.dashboard, '--dashboard');
  if (lb !== undefined) config.lb = lb;
  if (v.scenario !== undefined) config.scenario = v.scenario;
  if (stages) config.stages = stages;
  if (v.out !== undefined) {
    if (v.out.trim() === '') throw usage('--out needs a file name, e.g. --out series.ndjson');
    config.outPath = v.out;
  }
  config.given = givenFields(v);
  return config;
}

/** The config field each flag sets. */
const FLAG_FIELDS: Partial<Record<keyof typeof OPTIONS, keyof SimulateConfig>> = {
  agents: 'agents',
  manager: 'target',
  cluster: 'target',
  config: 'target',
  'no-spread': 'spread',
  keys: 'keysFile',
  enroll: 'enroll',
  'password-file': 'passwordFile',
  groups: 'groups',
  protocol: 'protocol',
  crypto: 'crypto',
  'compression-level': 'compressionLevel',
  strategy: 'strategy',
  jitter: 'jitter',
  notify: 'notifyTimeMs',
  'time-reconnect': 'timeReconnectMs',
  ramp: 'rampPerSecond',
  eps: 'eps',
  workload: 'workload',
  duration: 'durationMs',
  chaos: 'chaos',
  workers: 'workers',
  shard: 'shard',
  report: 'reportPath',
  html: 'htmlPath',
  prometheus: 'prometheusPort',
  'prometheus-host': 'prometheusHost',
  dashboard: 'dashboardPort',
  'dashboard-host': 'dashboardHost',
  lb: 'lb',
  seed: 'seed',
  quiet: 'quiet',
  'source-ips': 'sourceIps',
  drain: 'drainMs',
  threshold: 'thresholds',
  'abort-on-fail': 'abortOnFail',
  scenario: 'scenario',
  'connect-deadline': 'connectDeadlineMs',
  stage: 'stages',
  json: 'json',
  'run-id': 'runId',
  'start-at': 'startAt',
  out: 'outPath',
};

function givenFields(values: Record<string, unknown>): (keyof SimulateConfig)[] {
  const out = new Set<keyof SimulateConfig>();
  for (const [flag, value] of Object.entries(values)) {
    const field = FLAG_FIELDS[flag as keyof typeof OPTIONS];
    if (value !== undefined && field !== undefined) out.add(field);
  }
  return [...out];
}

function parseSimulateValues(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw translateParseArgsError(err, Object.keys(OPTIONS), 'simulate');
  }
}

/**
 * Checks a `--compression-level` (also {@link simulate}'s `config.compressionLevel`).
 *
 * @param value - the flag's text or the configured number.
 * @returns the level, 0 to 9.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for anything but a whole number from 0 to 9.
 */
export function parseCompressionLevel(value: string | number): number {
  return parseInteger(String(value), '--compression-level', 0, MAX_COMPRESSION_LEVEL, '0');
}

function positiveDuration(text: string, flag: string): number {
  const ms = parseFlagDuration(text, flag);
  if (ms <= 0) throw usage(`${flag} must be longer than 0, e.g. ${flag} 20s`);
  return ms;
}

/**
 * The agents of one shard: shard i of n takes the agents whose 0-based index k has k mod n = i - 1,
 * so every shard gets an even share and a node-spread mix.
 *
 * @param agents - fleet size.
 * @param shard - 1-based shard index and count.
 * @returns the 0-based agent indexes of the shard, ascending.
 */
export function shardAgentIndexes(agents: number, shard: { index: number; count: number }): number[] {
  const out: number[] = [];
  for (let k = shard.index - 1; k < agents; k += shard.count) out.push(k);
  return out;
}
