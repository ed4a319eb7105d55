/**
 * Run-time switchable faults of a {@link MockManager}: what a broken, slow or hostile manager does
 * to its agents. Faults that make sense per agent take `true` (every agent) or a set of agent ids.
 *
 * @module
 */
import type { MockManager } from './manager/mock-manager.js';

/** A fault that applies to every agent (`true`), to none (`false`), or to the listed agent ids. */
export type AgentSelector = boolean | ReadonlySet<string>;

/** How {@link ManagerFaults.corruptFrames} corrupts what the manager sends instead of an ACK. */
export type CorruptMode =
  /** A well-framed payload with the agent's method header and random ciphertext (the agent's decrypt fails). */
  | 'ciphertext'
  /** A frame of random bytes (random header and body). */
  | 'garbage'
  /** A length prefix above 65536 (the agent must treat the stream as corrupt and reconnect). */
  | 'oversize';

/**
 * The faults of a {@link MockManager}. Every field is off by default; change them at run time with
 * {@link MockManager.setFaults} and {@link MockManager.clearFaults}.
 */
export interface ManagerFaults {
  /**
   * Refuse new TCP connections by closing the listening socket: a connecting agent gets
   * `ECONNREFUSED` (a TCP RST to its SYN), exactly as when remoted is down. Established connections
   * are kept. When the fault is cleared the manager listens again on the same port. UDP datagrams
   * are ignored while the fault is on (a UDP agent only notices through its `timeReconnect`).
   * @default false
   */
  refuseConnections: boolean;
  /**
   * Accept connections and read everything, but never answer: no ACK, no `#pong`, nothing is
   * decoded or recorded (a hung remoted). With a set of ids, only those agents' messages are
   * discarded after the agent is identified.
   * @default false
   */
  blackhole: AgentSelector;
  /**
   * Process startups and keepalives (status changes) but send no `#!-agent ack `.
   * @default false
   */
  withholdAcks: AgentSelector;
  /**
   * Delay every ACK by this many milliseconds (0: none).
   * @default 0
   */
  ackDelayMs: number;
  /**
   * Close a TCP connection once it has carried this many valid messages; the last one is recorded
   * but gets no reply (0: never).
   * @default 0
   */
  closeAfterMessages: number;
  /**
   * Send a corrupt frame instead of each ACK (see {@link ManagerFaults.corruptMode}).
   * @default false
   */
  corruptFrames: AgentSelector;
  /**
   * What {@link ManagerFaults.corruptFrames} sends.
   * @default 'ciphertext'
   */
  corruptMode: CorruptMode;
  /**
   * Check message counters (`remoted.verify_msg_id=1`, protocol.md 3.5): a duplicated counter
   * (1407) or one that goes backwards (1404) is rejected and the TCP connection closed. The last
   * accepted counter of each agent is kept across connections, as the `rids` files keep it.
   * @default false (the constructor option `verifyCounters`)
   */
  verifyCounters: boolean;
  /**
   * Answer startup messages with `#!-err {"message":"Agent version must be lower or equal to manager version"}`
   * (or with this string as the message) and no ACK. With a set of ids, only those agents.
   * @default false
   */
  versionError: AgentSelector | string;
  /**
   * Treat these agents as unknown (as if their key were missing): their messages are rejected and
   * their TCP connections closed.
   * @default empty
   */
  rejectKeys: ReadonlySet<string>;
}

/** Agent ids as a set or an array. */
export type AgentIds = ReadonlySet<string> | readonly string[];

/** A change to the faults: any subset of the fields; agent sets may be given as arrays. */
export interface FaultsUpdate {
  /** See {@link ManagerFaults.refuseConnections}. */
  refuseConnections?: boolean;
  /** See {@link ManagerFaults.blackhole}. */
  blackhole?: boolean | AgentIds;
  /** See {@link ManagerFaults.withholdAcks}. */
  withholdAcks?: boolean | AgentIds;
  /** See {@link ManagerFaults.ackDelayMs}. */
  ackDelayMs?: number;
  /** See {@link ManagerFaults.closeAfterMessages}. */
  closeAfterMessages?: number;
  /** See {@link ManagerFaults.corruptFrames}. */
  corruptFrames?: boolean | AgentIds;
  /** See {@link ManagerFaults.corruptMode}. */
  corruptMode?: CorruptMode;
  /** See {@link ManagerFaults.verifyCounters}. */
  verifyCounters?: boolean;
  /** See {@link ManagerFaults.versionError}. */
  versionError?: boolean | string | AgentIds;
  /** See {@link ManagerFaults.rejectKeys}. */
  rejectKeys?: AgentIds;
}

const EMPTY: ReadonlySet<string> = new Set<string>();

/**
 * The faults with everything off.
 *
 * @param verifyCounters - the manager's configured counter check.
 * @returns a fresh faults object.
 */
export function defaultFaults(verifyCounters = false): ManagerFaults {
  return {
    refuseConnections: false,
    blackhole: false,
    withholdAcks: false,
    ackDelayMs: 0,
    closeAfterMessages: 0,
    corruptFrames: false,
    corruptMode: 'ciphertext',
    verifyCounters,
    versionError: false,
    rejectKeys: EMPTY,
  };
}

/**
 * Tells whether a selector applies to an agent.
 *
 * @param sel - the selector.
 * @param id - the agent id (undefined before the agent is known).
 * @returns `true` when the fault applies.
 */
export function selects(sel: AgentSelector | string, id: string | undefined): boolean {
  if (typeof sel === 'boolean') return sel;
  if (typeof sel === 'string') return true;
  return id !== undefined && sel.has(id);
}

function toSelector(v: boolean | AgentIds): AgentSelector {
  if (typeof v === 'boolean') return v;
  return new Set(v);
}

function nonNegative(v: number): number {
  return Number.isFinite(v) && v > 0 ? Math.floor(v) : 0;
}

/**
 * Applies an update to a faults object, normalising arrays to sets.
 *
 * @param current - the faults now.
 * @param update - the fields to change.
 * @returns a new faults object.
 */
export function mergeFaults(current: ManagerFaults, update: FaultsUpdate): ManagerFaults {
  const next: ManagerFaults = { ...current };
  if (update.refuseConnections !== undefined) next.refuseConnections = update.refuseConnections;
  if (update.blackhole !== undefined) next.blackhole = toSelector(update.blackhole);
  if (update.withholdAcks !== undefined) next.withholdAcks = toSelector(update.withholdAcks);
  if (update.ackDelayMs !== undefined) next.ackDelayMs = nonNegative(update.ackDelayMs);
  if (update.closeAfterMessages !== undefined) next.closeAfterMessages = nonNegative(update.closeAfterMessages);
  if (update.corruptFrames !== undefined) next.corruptFrames = toSelector(update.corruptFrames);
  if (update.corruptMode !== undefined) next.corruptMode = update.corruptMode;
  if (update.verifyCounters !== undefined) next.verifyCounters = update.verifyCounters;
  if (update.versionError !== undefined) {
    const v = update.versionError;
    next.versionError = typeof v === 'string' ? v : toSelector(v);
  }
  if (update.rejectKeys !== undefined) next.rejectKeys = new Set(update.rejectKeys);
  return next;
}
