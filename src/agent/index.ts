/**
 * The agent: AgentClient and its building blocks.
 *
 * @module
 */
export { AgentClient, AGENT_TRANSITIONS } from './client.js';
export type {
  AgentState,
  AgentEvent,
  AgentClientEvents,
  AgentClientStats,
  AgentRuntime,
  DisconnectReason,
  ManagerRequest,
  SharedFile,
  StartOptions,
  StopOptions,
} from './client.js';
export type { RetransmitWindowStats } from './delivery.js';
export { ServerPool } from './server-pool.js';
export type { ServerStats, ServerPoolSnapshot } from './server-pool.js';
export { ReconnectPlanner, applyJitter } from './reconnect.js';
export type { PlannedAttempt } from './reconnect.js';
export { Keepalive } from './keepalive.js';
export type { KeepaliveOwner, KeepaliveOptions } from './keepalive.js';
export { ClientBuffer } from './client-buffer.js';
export type { BufferLevel, DropReason, ClientBufferStats, ClientBufferEvents, ClientBufferOptions, ClientBufferDeps } from './client-buffer.js';
export { MemoryCounterStore, FileCounterStore, compareCounters, formatCounterText, parseCounterText } from './counter-store.js';
export type { FileCounterStoreOptions } from './counter-store.js';
