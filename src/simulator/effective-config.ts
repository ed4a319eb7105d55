/**
 * The effective configuration of a run, as the report's `config` and the HTML "Settings" show it:
 * the flags (and scenario file) after the ossec.conf of `--config`, the defaults and the
 * programmatic options (the demo's short timers and jitter, {@link SimulateOptions.chaos}) have
 * been applied, and the agents' client options as `resolveOptions()` resolves them: what the
 * agents really ran with, not what was typed.
 *
 * @module
 */
import { resolveOptions } from '../index.js';
import type { ResolvedBufferOptions } from '../index.js';
import type { ChaosStep } from './chaos/steps.js';
import type { SimulateConfig } from './flags.js';
import { simulatedIdentity } from './identities.js';
import type { RunTarget } from './target.js';

/** One server of the agents' list, as they use it. */
export interface EffectiveServer {
  /** Host name or address. */
  address: string;
  /** Port. */
  port: number;
  /** Transport. */
  protocol: 'tcp' | 'udp';
  /** The name the report's per-node counts use. */
  node: string;
  /** Connection attempts per round. */
  maxRetries: number;
  /** Milliseconds between attempts. */
  retryInterval: number;
}

/**
 * The report's `config`: every field of {@link SimulateConfig} (but `given`) with the value the run
 * used, and what the agents were resolved to beside it.
 */
export interface EffectiveConfig extends Omit<SimulateConfig, 'given' | 'strategy'> {
  /** The reconnect strategy: `wazuh`, `backoff`, or `custom` (a policy function given in code). */
  strategy: 'wazuh' | 'backoff' | 'custom';
  /** Every agent's server list before its rotation (the nodes, their fault proxies, a balancer, the managers). */
  servers: EffectiveServer[];
  /** The reconnect strategy with every parameter (backoff delays, factor, attempts). */
  reconnect: Record<string, unknown>;
  /** The client buffer (`<client_buffer>`). */
  buffer: ResolvedBufferOptions;
  /** zlib level of each message. */
  compressionLevel: number;
  /** Milliseconds an agent waits for its startup ACK. */
  handshakeTimeoutMs: number;
  /** Delivery guarantee of the events. */
  delivery: string;
  /** Enrollment settings, when the agents enroll (the password is never shown). */
  enrollment?: { managerAddress: string | undefined; port: number; groups: string[]; password?: '[redacted]' };
}

/**
 * Computes the effective configuration of a run from the flags and its resolved target.
 *
 * @param config - the flags (and scenario) as parsed.
 * @param target - the resolved target: servers and the client options every agent gets.
 * @param chaos - the chaos steps that run (the programmatic ones when given).
 * @returns the configuration to report; JSON-serialisable, no secret in it.
 */
export function effectiveConfig(config: SimulateConfig, target: RunTarget, chaos: readonly ChaosStep[]): EffectiveConfig {
  const { given: _given, ...flags } = config;
  const { logger: _logger, counterStore: _store, ...client } = target.client;
  const r = resolveOptions({
    ...client,
    agent: simulatedIdentity(0, 'effective-config'),
    servers: target.servers.map(({ node: _node, ...s }) => s),
  });
  const reconnect: Record<string, unknown> = r.reconnect.strategy === 'custom' ? { strategy: 'custom' } : { ...r.reconnect };
  const out: EffectiveConfig = {
    ...flags,
    protocol: r.servers[0]?.protocol ?? config.protocol,
    crypto: r.cryptoMethod,
    strategy: r.reconnect.strategy,
    jitter: r.reconnect.strategy === 'custom' ? 0 : r.reconnect.jitter,
    notifyTimeMs: r.notifyTime,
    timeReconnectMs: r.timeReconnect,
    chaos: chaos.map((s) => ({ ...s })),
    servers: r.servers.map((s, i) => ({
      address: s.address,
      port: s.port,
      protocol: s.protocol,
      node: target.servers[i]?.node ?? `${s.address}:${s.port}`,
      maxRetries: s.maxRetries,
      retryInterval: s.retryInterval,
    })),
    reconnect,
    buffer: { ...r.buffer },
    compressionLevel: r.compressionLevel,
    handshakeTimeoutMs: r.handshakeTimeout,
    delivery: r.delivery,
  };
  const e = target.client.enrollment;
  // the agents enroll when they were given no identities (no --keys, no embedded cluster)
  if (e && e.enabled !== false && target.identities === undefined && target.generatedSeed === undefined) {
    out.enrollment = {
      managerAddress: r.enrollment.managerAddress,
      port: r.enrollment.port,
      groups: [...r.enrollment.groups],
      ...(r.enrollment.password !== undefined ? { password: '[redacted]' as const } : {}),
    };
  }
  return out;
}
