/**
 * agentlink: a Wazuh 4.x wire-compatible agent SDK for Node.js.
 *
 * @module agentlink
 */
export * from './errors.js';
export * from './protocol/index.js';
export * from './config/index.js';
export * from './transport/index.js';
export * from './agent/index.js';
export * from './enrollment/index.js';
export type { Clock, TimerHandle } from './clock.js';
export { createLogger, silentLogger, REDACTED_PATHS } from './logger.js';
export { systemClock } from './clock.js';
