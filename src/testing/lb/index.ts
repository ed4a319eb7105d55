/**
 * Real load balancers for tests: HAProxy (the Wazuh documentation's layout, with its runtime API)
 * and nginx `stream`, started with generated configs on 127.0.0.1 and stopped after.
 *
 * @module
 */
export type { ExtraLines, LbBackend } from './common.js';
export {
  findBinary,
  resolveLbBinary,
  findNginxStreamModule,
  isExecutable,
  lbAvailability,
  LB_BINARY_ENV,
  LB_DEBIAN_PACKAGE,
  LB_EXTRA_SEARCH_DIRS,
  NGINX_STREAM_DEBIAN_PACKAGE,
} from './find-binary.js';
export type { LbAvailability, LbProgram, NginxStreamSupport } from './find-binary.js';
export {
  HAPROXY_ENROLLMENT_PROXY,
  HAPROXY_EVENTS_BACKEND,
  HAPROXY_EVENTS_FRONTEND,
  HaproxyBalancer,
  renderHaproxyConfig,
  resolveHaproxyBinary,
} from './haproxy.js';
export type { HaproxyBalancerOptions, HaproxyConfigInput, HaproxyTimeouts } from './haproxy.js';
export { NGINX_ENROLLMENT_UPSTREAM, NGINX_EVENTS_UPSTREAM, NginxStreamBalancer, renderNginxConfig, resolveNginxBinary } from './nginx.js';
export type { NginxBalanceMethod, NginxConfigInput, NginxStreamBalancerOptions } from './nginx.js';
export { pickFreePort, pickFreePorts } from './process.js';
export { checkBalance, DEFAULT_AGENT_TOLERANCE } from './rebalance.js';
export type { BalanceVerdict } from './rebalance.js';
export {
  DEFAULT_RUNTIME_API_TIMEOUT_MS,
  HaproxyRuntimeApi,
  parseServersState,
  parseShowStat,
  splitCsvLine,
  toServerState,
} from './runtime-api.js';
export type {
  HaproxyRuntimeApiOptions,
  ServerState,
  ServerStateRow,
  SettableServerState,
  StatRow,
  StatRowType,
} from './runtime-api.js';
export {
  DEFAULT_ADMIN_STATE_DELAY,
  DEFAULT_NODE_UP_TIMEOUT,
  DEFAULT_REBALANCE_CHUNK_DELAY,
  DEFAULT_REBALANCE_CHUNK_SIZE,
  DEFAULT_REBALANCE_SLEEP_TIME,
  DEFAULT_RECONNECTION_STABILITY_TIME,
  DEFAULT_STATUS_SYNC_TIME,
  HaproxyRebalancer,
  rebalanceClusterOf,
} from './rebalancer.js';
export type {
  HaproxyRebalancerEvents,
  HaproxyRebalancerOptions,
  MigrationResult,
  MockClusterNodes,
  RebalanceCluster,
  RebalancerRuntime,
  RebalanceRunResult,
} from './rebalancer.js';
