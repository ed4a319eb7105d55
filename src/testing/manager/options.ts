/**
 * The {@link MockManager}'s options, checked and filled once.
 *
 * @module
 */
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import { MemoryCounterStore } from '../../agent/counter-store.js';
import type { CounterStore } from '../../config/options.js';
import type { Logger } from '../../logger.js';
import { ConfigError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import type { ListenerFactory } from '../../transport/listener.js';
import { listenNode } from '../../transport/node-listener.js';
import type { MockAuthdOptions } from '../authd.js';
import type { ManagerProtocol, MockManagerOptions, SharedFileInput } from './types.js';

/** {@link MockManagerOptions} with every default applied. */
export interface ResolvedManagerOptions {
  name: string;
  host: string;
  port: number;
  protocols: readonly ManagerProtocol[];
  /** `[major, minor]` of `managerVersion`. */
  managerVersion: [number, number];
  overtakeTime: number;
  disconnectionTime: number;
  disconnectOnClose: boolean;
  verifyCounters: boolean;
  logger: Logger;
  clock: Clock;
  maxConnections: number;
  frameDeadline: number;
  sendBufferSize: number;
  historyLimit: number;
  requestTimeout: number;
  rto: number;
  maxAttempts: number;
  udpFilePause: number;
  udpRecvBuffer: number;
  authd: true | Partial<MockAuthdOptions> | undefined;
  sharedFiles: Record<string, readonly SharedFileInput[]>;
  listener: ListenerFactory;
  counterStore: CounterStore;
  /** Period of the one housekeeping timer. */
  sweepPeriod: number;
}

/**
 * Checks and fills the options.
 *
 * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for an impossible value (the message names the option).
 */
export function resolveManagerOptions(options: MockManagerOptions): ResolvedManagerOptions {
  const name = options.name ?? 'node01';
  const protocols = options.protocols ?? ['tcp'];
  if (protocols.length === 0 || protocols.some((p) => p !== 'tcp' && p !== 'udp')) {
    throw new ConfigError(`protocols must list 'tcp' and/or 'udp', got ${JSON.stringify(protocols)}`, {
      element: 'protocols',
      value: protocols,
    });
  }
  const version = options.managerVersion ?? 'v4.14.7';
  const managerVersion = parseVersion(version);
  if (managerVersion === undefined) {
    throw new ConfigError(`managerVersion must look like 'v4.14.7', got '${version}'`, { element: 'managerVersion', value: version });
  }
  const frameDeadline = intOption('frameDeadlineMs', options.frameDeadlineMs, 60_000, 1, 2 ** 31 - 1);
  const disconnectionTime = intOption('agentsDisconnectionTime', options.agentsDisconnectionTime, 900_000, 1, 2 ** 31 - 1);
  return {
    name,
    host: options.host ?? '127.0.0.1',
    port: intOption('port', options.port, 0, 0, 65535),
    protocols: [...new Set(protocols)],
    managerVersion,
    overtakeTime: intOption('connectionOvertakeTime', options.connectionOvertakeTime, 60_000, 0, 3_600_000),
    disconnectionTime,
    disconnectOnClose: options.disconnectOnClose ?? false,
    verifyCounters: options.verifyCounters ?? false,
    logger: (options.logger ?? silentLogger).child({ component: 'mock-manager', node: name }),
    clock: options.clock ?? systemClock,
    maxConnections: intOption('maxConnections', options.maxConnections, 0, 0, 2 ** 31 - 1),
    frameDeadline,
    sendBufferSize: intOption('sendBufferSize', options.sendBufferSize, 131_072, 1, 2 ** 31 - 1),
    historyLimit: intOption('eventHistory', options.eventHistory, 100_000, 0, 2 ** 31 - 1),
    requestTimeout: intOption('requestTimeout', options.requestTimeout, 60_000, 1, 2 ** 31 - 1),
    rto: intOption('requestRetransmitMs', options.requestRetransmitMs, 1000, 1, 2 ** 31 - 1),
    maxAttempts: intOption('requestMaxAttempts', options.requestMaxAttempts, 4, 1, 1000),
    udpFilePause: intOption('udpFilePauseMs', options.udpFilePauseMs, 1000, 0, 2 ** 31 - 1),
    udpRecvBuffer: intOption('udpReceiveBufferSize', options.udpReceiveBufferSize, 4 * 1024 * 1024, 1024, 2 ** 31 - 1),
    authd: options.authd === false ? undefined : options.authd,
    sharedFiles: options.sharedFiles ?? {},
    listener: options.listener ?? listenNode,
    counterStore: options.counterStore ?? new MemoryCounterStore(),
    sweepPeriod: Math.max(10, Math.min(1000, Math.floor(Math.min(frameDeadline, disconnectionTime) / 2))),
  };
}

function intOption(name: string, value: number | undefined, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`MockManager option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`, { element: name, value });
  }
  return value;
}

/** Parses `v4.14.7` / `4.14` into [major, minor]. */
export function parseVersion(v: string): [number, number] | undefined {
  const m = /^v?([0-9]+)\.([0-9]+)/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Compares two [major, minor] versions. */
export function compareVersion(a: [number, number], b: [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}
