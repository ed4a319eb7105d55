/**
 * The `agentlink simulate` flags: parsed strictly with `node:util` `parseArgs` into a typed
 * {@link SimulateConfig}. Every bad input is a {@link agentlink!ToolError} `ERR_USAGE` with one line that
 * names the flag and says what to write instead.
 *
 * @module
 */
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import { parseDuration as parseDurationConfig } from '../config/index.js';
import {
  DEFAULT_CRYPTO_METHOD,
  DEFAULT_ENROLLMENT_PORT,
  DEFAULT_JITTER,
  DEFAULT_NOTIFY_TIME,
  DEFAULT_PORT,
  DEFAULT_PROTOCOL,
  DEFAULT_RECONNECT_STRATEGY,
  DEFAULT_TIME_RECONNECT,
} from '../config/index.js';
import { ConfigError, ToolError } from '../errors.js';

/** A `host:port` address. */
export interface HostPort {
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** Port number. */
  port: number;
}

/** Chaos actions `--chaos` accepts. `rebalance` takes no node. */
export const CHAOS_ACTIONS = ['kill', 'restart', 'rebalance'] as const;

/** One step of the chaos schedule. */
export interface ChaosStep {
  /** `kill` a node (close its listener and every connection), `restart` it, or `rebalance` the cluster. */
  action: (typeof CHAOS_ACTIONS)[number];
  /** The node (`node1`…`nodeN`); absent for `rebalance`. */
  node?: string;
  /** When, in milliseconds after the start of the run. */
  atMs: number;
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
  /** `--chaos 'kill:node1@20s,restart:node1@40s'`: the chaos schedule, in time order. */
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
}

/** Default `--ramp`, agents per second. */
export const DEFAULT_RAMP_PER_SECOND = 500;
/** Default `--eps`, events per second per agent. */
export const DEFAULT_EPS = 1;
/** Default `--duration`, milliseconds. */
export const DEFAULT_DURATION = 60_000;
/** Default `--drain`, milliseconds. */
export const DEFAULT_DRAIN = 5_000;
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

Run a fleet of simulated Wazuh agents against a manager, a manager cluster or an embedded mock cluster.

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
  --jitter 0..1           randomised fraction of each reconnect delay (default 0)
  --notify DURATION       keepalive period (default 20s)
  --time-reconnect DURATION  silence before a server counts as lost (default 60s)
  --ramp N/s              agents started per second, 0 for all at once (default 500/s)
  --source-ips N          spread source addresses over 127.0.0.1..N (default: the OS chooses)
Load and schedule:
  --eps N                 events per second per agent, may be fractional (default 1)
  --workload KIND         syslog | fim | mixed | mixed:syslog=9,fim=1 | a JSONL or log file (default syslog)
  --duration DURATION     run length, 0 until interrupted (default 60s)
  --drain DURATION        time to flush buffers at the end (default 5s)
  --chaos STEPS           e.g. 'kill:node1@20s,restart:node1@40s,rebalance@50s' (needs --cluster)
  --lb haproxy|nginx      real load balancer in front of the embedded cluster (needs --cluster)
  --seed TEXT             seed of all random choices (default agentlink)
Scale out:
  --workers N             worker processes sharing the agents (default 1)
  --shard I/N             run part I of N (1-based), e.g. --shard 1/2 on one machine and 2/2 on another
Output:
  --report FILE           JSON report; - writes it to standard output (the summary table then goes to standard error)
  --html FILE             self-contained HTML report with plots
  --prometheus PORT       Prometheus metrics on 127.0.0.1:PORT
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
  lb: { type: 'string' },
  seed: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'source-ips': { type: 'string' },
  drain: { type: 'string' },
} as const;

function usage(message: string, cause?: unknown): ToolError {
  return new ToolError(message, 'ERR_USAGE', cause === undefined ? undefined : { cause });
}

/** Edit distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * The closest known flag to a mistyped one, when it is close enough to be a typo.
 *
 * @param flag - the unknown flag, with or without dashes.
 * @param known - the known flag names without dashes.
 * @returns `--name`, or undefined.
 */
export function suggestFlag(flag: string, known: readonly string[]): string | undefined {
  const name = flag.replace(/^-+/, '').split('=')[0] ?? '';
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? `--${best}` : undefined;
}

/**
 * Turns a `node:util` `parseArgs` error into a one-line usage error naming the flag.
 *
 * @param err - the error `parseArgs` threw.
 * @param known - the command's flag names (without dashes), for suggestions.
 * @param command - the command, for the help hint (`simulate`).
 * @returns the usage error (other errors are returned as they are).
 */
export function translateParseArgsError(err: unknown, known: readonly string[], command: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  const help = `see agentlink ${command} --help`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const hint = suggestFlag(quoted, known);
    return usage(`unknown flag '${quoted}'${hint ? `; did you mean ${hint}?` : ''} (${help})`, err);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--[\w-]+/.exec(quoted)?.[0] ?? quoted.split(' ')[0] ?? quoted;
    if (/does not take an argument/.test(message)) return usage(`${flag} is a switch and takes no value; write just ${flag}`, err);
    return usage(`${flag} needs a value, e.g. ${flag} VALUE (${help})`, err);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    return usage(`unexpected argument '${quoted}'; every value belongs to a flag (${help})`, err);
  }
  return err;
}

/**
 * Parses a CLI duration (`500ms`, `30s`, `1m`, `2h`, `1h30m`; a bare `0`).
 *
 * @param text - the value.
 * @param flag - the flag, for the error message.
 * @returns milliseconds.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the flag and the accepted forms.
 */
export function parseFlagDuration(text: string, flag: string): number {
  try {
    return parseDurationConfig(text, flag);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw usage(`${flag} '${text}' is not a duration; write it like 500ms, 30s, 1m, 2h or 1h30m`, err);
    }
    throw err;
  }
}

function parseInteger(text: string, flag: string, min: number, max: number, example: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw usage(`${flag} '${text}' must be a whole number from ${min} to ${max}, e.g. ${flag} ${example}`);
  }
  return n;
}

function parseNumber(text: string, flag: string, min: number, max: number, example: string): number {
  const t = text.trim();
  const n = /^(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) {
    throw usage(`${flag} '${text}' must be a number from ${min} to ${max === Infinity ? 'any' : max}, e.g. ${flag} ${example}`);
  }
  return n;
}

function parseChoice<T extends string>(text: string, flag: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw usage(`${flag} '${text}' is not one of ${choices.join(', ')}`);
}

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

/**
 * Parses a chaos schedule: comma-separated `ACTION:NODE@TIME` steps (`rebalance@TIME` takes no node).
 *
 * @param text - e.g. `kill:node1@20s,restart:node1@40s`.
 * @param nodes - the cluster size, to check node names (`node1`…`nodeN`).
 * @returns the steps, in time order.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the bad step.
 */
export function parseChaos(text: string, nodes: number): ChaosStep[] {
  const steps: ChaosStep[] = [];
  for (const raw of text.split(',')) {
    const step = raw.trim();
    if (step === '') continue;
    const m = /^([a-z]+)(?::([^@\s]+))?@(.+)$/.exec(step);
    if (!m) throw usage(`--chaos step '${step}' must look like kill:node1@20s (ACTION:NODE@TIME) or rebalance@30s`);
    const action = m[1]!;
    if (!(CHAOS_ACTIONS as readonly string[]).includes(action)) {
      throw usage(`--chaos step '${step}': unknown action '${action}'; use ${CHAOS_ACTIONS.join(', ')}`);
    }
    const node = m[2];
    const atMs = parseFlagDuration(m[3]!, `--chaos step '${step}': time`);
    if (action === 'rebalance') {
      if (node !== undefined) throw usage(`--chaos step '${step}': rebalance acts on the whole cluster; write rebalance@${m[3]}`);
      steps.push({ action, atMs });
      continue;
    }
    if (node === undefined) throw usage(`--chaos step '${step}': name the node, e.g. ${action}:node1@${m[3]}`);
    const n = /^node([1-9]\d*)$/.exec(node);
    if (!n || Number(n[1]) > nodes) {
      throw usage(`--chaos step '${step}': unknown node '${node}'; the cluster has node1..node${nodes} (--cluster ${nodes})`);
    }
    steps.push({ action: action as ChaosStep['action'], node, atMs });
  }
  return steps.sort((a, b) => a.atMs - b.atMs);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Parses the `agentlink simulate` flags.
 *
 * @param argv - the arguments after `simulate`.
 * @returns the typed configuration, with defaults filled in.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` with one line naming the flag at fault and the fix: unknown
 *   flag, missing or malformed value, no target or two targets, `--shard 3/2`, chaos on an unknown
 *   node or without `--cluster`, and flags that need another flag.
 */
export function parseSimulateArgs(argv: readonly string[]): SimulateConfig {
  const v = parseSimulateValues(argv);

  if (v.agents === undefined) throw usage('--agents is required: say how many agents to run, e.g. --agents 1000');
  const agents = parseInteger(v.agents, '--agents', 1, MAX_AGENTS, '1000');

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

  const durationMs = v.duration === undefined ? DEFAULT_DURATION : parseFlagDuration(v.duration, '--duration');

  let chaos: ChaosStep[] = [];
  if (v.chaos !== undefined) {
    if (target.kind !== 'cluster') throw usage('--chaos needs --cluster N: chaos acts on the nodes of the embedded mock cluster');
    chaos = parseChaos(v.chaos.join(','), target.nodes);
    const late = durationMs > 0 ? chaos.find((c) => c.atMs >= durationMs) : undefined;
    if (late) {
      throw usage(`--chaos step ${late.action}${late.node ? `:${late.node}` : ''}@${late.atMs}ms is not before the end of the run; raise --duration or move the step earlier`);
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
  };
  if (lb === 'haproxy' && config.protocol === 'udp') {
    throw usage('--lb haproxy balances TCP only; use --lb nginx (stream, UDP) or --protocol tcp');
  }
  if (config.workload.trim() === '') throw usage('--workload is empty; give syslog, fim, mixed or a file path');
  if (config.shard.count > agents) {
    throw usage(`--shard ${config.shard.index}/${config.shard.count} splits ${agents} agents into more shards than agents; use fewer shards`);
  }
  if (v.keys !== undefined) config.keysFile = v.keys;
  if (enroll !== undefined) config.enroll = enroll;
  if (v['password-file'] !== undefined) config.passwordFile = v['password-file'];
  if (v.report !== undefined) config.reportPath = v.report;
  if (v.html !== undefined) config.htmlPath = v.html;
  if (v.prometheus !== undefined) config.prometheusPort = parseInteger(v.prometheus, '--prometheus', 0, 65535, '9464');
  if (lb !== undefined) config.lb = lb;
  return config;
}

function parseSimulateValues(argv: readonly string[]) {
  try {
    return parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw translateParseArgsError(err, Object.keys(OPTIONS), 'simulate');
  }
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
