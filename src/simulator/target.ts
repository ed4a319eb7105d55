/**
 * Where a simulation's agents connect, resolved from the flags before anything runs: the embedded
 * mock cluster (with a balancer or fault proxies in front when asked), a list of managers, or the
 * servers of an ossec.conf; the identities; and the client options every agent gets (the flags
 * over the ossec.conf, with the programmatic options on top). {@link RunTarget} is the one place
 * that holds the effective settings of a run.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  ConfigError,
  DEFAULT_CRYPTO_METHOD,
  DEFAULT_JITTER,
  DEFAULT_NOTIFY_TIME,
  DEFAULT_RECONNECT_STRATEGY,
  DEFAULT_TIME_RECONNECT,
  ToolError,
  loadEnrollmentFiles,
  parseOssecConf,
  readPasswordFile,
} from '../index.js';
import type { AgentIdentityOptions, AgentKey, ServerOptions } from '../index.js';
import { startEmbeddedCluster } from './cluster-host.js';
import type { EmbeddedCluster } from './cluster-host.js';
import type { SimulateConfig } from './flags.js';
import type { FleetClientOptions, FleetServer } from './fleet-types.js';
import { loadKeysFile, simulatedIdentities } from './identities.js';
import { resourceLimitOf } from './limits.js';
import { membershipThroughBalancer, SIMULATOR_REBALANCER_OPTIONS, startBalancerForCluster } from './lb.js';
import type { ClusterBalancer } from './lb.js';

/** Fleets above this many agents (or any run with workers) get their embedded cluster in a child process. */
export const CLUSTER_PROCESS_THRESHOLD = 2000;

/** What {@link resolveTarget} needs beyond the flags. */
export interface TargetOptions {
  /** Where the embedded cluster runs: `auto` forks it above CLUSTER_PROCESS_THRESHOLD agents or with workers. */
  clusterProcess?: 'auto' | boolean;
  /** `maxRetries` / `retryInterval` given to every server of every agent. */
  serverOptions?: Pick<ServerOptions, 'maxRetries' | 'retryInterval'>;
  /** Client options merged over those the flags give. */
  client?: Partial<FleetClientOptions>;
  /** Put a fault proxy in front of every node of the embedded cluster (the chaos has path faults). */
  faultPaths?: boolean;
}

/** Turns a system-limit failure (EMFILE, EADDRNOTAVAIL, ...) into a one-line ToolError; other errors pass. */
export function asLimitError(err: unknown, where: string): unknown {
  const hit = resourceLimitOf(err);
  if (!hit) return err;
  return new ToolError(`${where}: ${hit.code}: ${hit.message}`, 'ERR_RESOURCE_LIMIT', { cause: err });
}

/** The resolved target of a run: servers, cluster, balancer, identities and the effective client options. */
export interface RunTarget {
  /** Every agent's ordered server list (before its rotation): the nodes, their proxies, the balancer, or the managers. */
  servers: FleetServer[];
  /** The embedded cluster, with `--cluster`. */
  cluster: EmbeddedCluster | undefined;
  /** The balancer in front of it, with `--lb`. */
  lb: ClusterBalancer | undefined;
  /** The effective client options of every agent: ossec.conf, then the flags set, then the programmatic options. */
  client: FleetClientOptions;
  /** One identity per agent of the shard (from `--keys`), or undefined to enroll or generate. */
  identities: (AgentIdentityOptions | undefined)[] | undefined;
  /** Seed of the generated identities, with `--cluster`. */
  generatedSeed: string | undefined;
  /** Whether every server is on 127.0.0.0/8 (the agents' source addresses may then be spread). */
  loopback: boolean;
}

function clientFromFlags(config: SimulateConfig): FleetClientOptions {
  return {
    notifyTime: config.notifyTimeMs,
    timeReconnect: config.timeReconnectMs,
    cryptoMethod: config.crypto,
    ...(config.compressionLevel === undefined ? {} : { compressionLevel: config.compressionLevel }),
    reconnect:
      config.strategy === 'wazuh'
        ? { strategy: 'wazuh', jitter: config.jitter }
        : // the backoff strategy's own default is full jitter; --jitter overrides it when given
          { strategy: 'backoff', ...(config.jitter > 0 ? { jitter: config.jitter } : {}) },
  };
}

const isLoopback = (host: string): boolean => host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Resolves the target of a run and starts what it needs (the embedded cluster, the balancer).
 *
 * @param config - the flags.
 * @param options - cluster placement, server and client extras, fault proxies.
 * @param indexes - the agents of this shard.
 * @param cwd - base of relative paths.
 * @param log - notes for the terminal.
 * @returns the target; its cluster and balancer are running (the caller closes them).
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for unreadable files or contradicting flags, `ERR_RESOURCE_LIMIT` when the cluster cannot start.
 */
export async function resolveTarget(config: SimulateConfig, options: TargetOptions, indexes: readonly number[], cwd: string, log: (l: string) => void): Promise<RunTarget> {
  let client = clientFromFlags(config);
  const serverExtra = options.serverOptions ?? {};
  let identities: (AgentIdentityOptions | undefined)[] | undefined;
  const enrollment = async (): Promise<FleetClientOptions['enrollment']> => {
    if (!config.enroll) return undefined;
    return {
      enabled: true,
      managerAddress: config.enroll.host,
      port: config.enroll.port,
      groups: config.groups,
      ...(config.passwordFile !== undefined ? { password: await readPasswordFile(config.passwordFile, { baseDir: cwd, element: '--password-file' }) } : {}),
    };
  };
  const fromKeys = (): void => {
    if (config.keysFile === undefined) return;
    const keys = loadKeysFile(config.keysFile, config.agents, cwd);
    identities = indexes.map((i) => keys[i]!);
  };

  if (config.target.kind === 'cluster') {
    if (config.enroll) throw new ToolError('--enroll cannot be used with --cluster: the embedded cluster generates the agent keys; drop --enroll', 'ERR_USAGE');
    const keys: AgentKey[] = simulatedIdentities(indexes, config.seed);
    const forked = options.clusterProcess === true || (options.clusterProcess !== false && (config.agents > CLUSTER_PROCESS_THRESHOLD || config.workers > 1));
    let cluster: EmbeddedCluster;
    try {
      cluster = await startEmbeddedCluster({ nodes: config.target.nodes, keys, protocol: config.protocol, forked, faultPaths: options.faultPaths === true });
    } catch (err) {
      throw asLimitError(err, 'starting the embedded cluster');
    }
    if (forked) log(`embedded cluster of ${config.target.nodes} nodes runs in its own process`);
    let lb: ClusterBalancer | undefined;
    if (config.lb) {
      try {
        const c = cluster;
        lb = await startBalancerForCluster(
          config.lb,
          {
            servers: cluster.servers.map((n) => ({ address: n.address, port: n.port ?? 1514, node: n.node ?? n.address, protocol: n.protocol ?? 'tcp' })),
            authdPort: cluster.authdPort,
          },
          config.lb === 'haproxy'
            ? { rebalance: { ...SIMULATOR_REBALANCER_OPTIONS, cluster: { agentsOnNode: (n, l) => c.agentsOnNode(n, l), reconnectAgents: (n, ids) => c.reconnectAgents(n, ids) } } }
            : {},
        );
      } catch (err) {
        await cluster.close();
        throw err;
      }
      log(`${config.lb} balances the agents over the ${config.target.nodes} nodes at ${lb.eventsServer.address}:${lb.eventsServer.port}`);
      if (lb.rebalancer) cluster = membershipThroughBalancer(cluster, lb.rebalancer);
    }
    return {
      servers: lb
        ? [{ address: lb.eventsServer.address, port: lb.eventsServer.port, protocol: lb.protocol, node: config.lb!, ...serverExtra }]
        : cluster.servers.map((s) => ({ ...s, ...serverExtra })),
      cluster,
      lb,
      client: withOverrides(client, options.client),
      identities: undefined,
      generatedSeed: config.seed,
      loopback: true,
    };
  }

  if (config.target.kind === 'managers') {
    fromKeys();
    const enroll = await enrollment();
    if (enroll) client.enrollment = enroll;
    return {
      servers: config.target.servers.map((s) => ({ address: s.host, port: s.port, protocol: config.protocol, node: `${s.host}:${s.port}`, ...serverExtra })),
      cluster: undefined,
      lb: undefined,
      client: withOverrides(client, options.client),
      identities,
      generatedSeed: undefined,
      loopback: config.target.servers.every((s) => isLoopback(s.host)),
    };
  }

  // --config ossec.conf: its servers and options, with the flags the user set on top
  const path = resolve(cwd, config.target.path);
  let xml: string;
  try {
    xml = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ToolError(`--config '${config.target.path}': cannot read the file (${code})`, 'ERR_USAGE', { cause: err });
  }
  let conf = parseOssecConf(xml);
  conf = await loadEnrollmentFiles(conf, { baseDir: cwd });
  for (const w of conf.warnings) log(`ossec.conf: ${w}`);
  const { servers, ...confOptions } = conf.options;
  const flags = clientFromFlags(config);
  client = { ...(confOptions as FleetClientOptions) };
  // a flag (or scenario field) that was given overrides the file, even when it equals its default
  const given = (field: keyof SimulateConfig, differs: boolean): boolean => (config.given ? config.given.includes(field) : differs);
  if (given('notifyTimeMs', config.notifyTimeMs !== DEFAULT_NOTIFY_TIME)) client.notifyTime = flags.notifyTime;
  if (given('timeReconnectMs', config.timeReconnectMs !== DEFAULT_TIME_RECONNECT)) client.timeReconnect = flags.timeReconnect;
  if (given('crypto', config.crypto !== DEFAULT_CRYPTO_METHOD)) client.cryptoMethod = flags.cryptoMethod;
  if (config.compressionLevel !== undefined) client.compressionLevel = config.compressionLevel;
  if (given('strategy', config.strategy !== DEFAULT_RECONNECT_STRATEGY) || given('jitter', config.jitter !== DEFAULT_JITTER)) {
    client.reconnect = flags.reconnect;
  }
  fromKeys();
  const enroll = await enrollment();
  if (enroll) client.enrollment = { ...client.enrollment, ...enroll };
  if (!identities && (!client.enrollment || client.enrollment.enabled === false)) {
    throw new ToolError(`--config '${config.target.path}' has no (enabled) <enrollment> section: give --keys client.keys or --enroll HOST:PORT for the agent identities`, 'ERR_USAGE');
  }
  if (servers.length === 0) throw new ConfigError(`--config '${config.target.path}' lists no <server>`, { element: 'client/server' });
  return {
    servers: servers.map((s) => ({ ...s, protocol: s.protocol ?? config.protocol, node: `${s.address}:${s.port ?? 1514}`, ...serverExtra })),
    cluster: undefined,
    lb: undefined,
    client: withOverrides(client, options.client),
    identities,
    generatedSeed: undefined,
    loopback: servers.every((s) => isLoopback(s.address)),
  };
}

/** The flags' client options with the programmatic ones on top (enrollment and buffer merged field by field). */
function withOverrides(client: FleetClientOptions, extra: Partial<FleetClientOptions> | undefined): FleetClientOptions {
  if (!extra) return client;
  const out: FleetClientOptions = { ...client, ...extra };
  if (client.enrollment && extra.enrollment) out.enrollment = { ...client.enrollment, ...extra.enrollment };
  if (client.buffer && extra.buffer) out.buffer = { ...client.buffer, ...extra.buffer };
  return out;
}

