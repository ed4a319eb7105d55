/**
 * What the parts of a {@link MockManager} share: resolved options, counters, faults, the key store,
 * the event emitter and the listener.
 *
 * @module
 */
import type { EventEmitter } from 'eventemitter3';
import type { DecodeErrorCode } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import type { Listener } from '../../transport/listener.js';
import type { ManagerFaults } from '../faults.js';
import type { KeyStore } from '../keystore.js';
import type { ResolvedManagerOptions } from './options.js';
import type { MockManagerEvents, MockManagerStats } from './types.js';

/** The manager-wide counters of {@link MockManagerStats} that the parts update (the rest is computed). */
export type ManagerCounters = Omit<
  MockManagerStats,
  'node' | 'connections' | 'connectedAgents' | 'agents' | 'bytesIn' | 'maxConnectionBuffered' | 'decodeErrorsByCode' | 'pendingRequests'
>;

/** @returns counters at zero. */
export function newCounters(): ManagerCounters {
  return {
    connectionsTotal: 0,
    connectionsClosed: 0,
    eventsReceived: 0,
    messagesReceived: 0,
    bytesOut: 0,
    messagesSent: 0,
    acksSent: 0,
    decodeErrors: 0,
    unknownAgents: 0,
    framesTooLarge: 0,
    slowConnectionsClosed: 0,
    keyInUseRejections: 0,
    overtakes: 0,
    counterRejections: 0,
    invalidControl: 0,
    invalidMessages: 0,
    pings: 0,
    sendDropped: 0,
    connectionsRefused: 0,
    filesPushed: 0,
  };
}

/** The state every part of one manager reads. */
export interface ManagerContext {
  /** Resolved options (logger, clock, limits). */
  readonly opts: ResolvedManagerOptions;
  /** The agents' keys. */
  readonly keyStore: KeyStore;
  /** Counters. */
  readonly counters: ManagerCounters;
  /** Rejections by error code. */
  readonly errorsByCode: Partial<Record<DecodeErrorCode, number>>;
  /** The manager, to emit its events. */
  readonly emitter: EventEmitter<MockManagerEvents>;
  /** The faults in force: read once per message. */
  readonly faults: ManagerFaults;
  /** The listener, while the manager listens. */
  readonly listener: Listener | undefined;
  /** Whether the manager is running (started, not closing). */
  readonly running: boolean;
}

/**
 * Whether a logger writes debug lines, so that the per-connection and per-status debug lines
 * build their fields only when they are written: false for the silent logger and for a logger
 * whose `isLevelEnabled('debug')` (pino's) says so; true for any other logger.
 *
 * @param logger - the manager's logger.
 * @returns whether `logger.debug()` may write.
 */
export function debugEnabled(logger: Logger): boolean {
  if (logger === silentLogger) return false;
  const isLevelEnabled = (logger as { isLevelEnabled?: unknown }).isLevelEnabled;
  return typeof isLevelEnabled === 'function' ? (isLevelEnabled as (level: string) => boolean).call(logger, 'debug') : true;
}
