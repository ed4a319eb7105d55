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
  ServerCheckOptions,
  ServerState,
  ServerStateRow,
  SettableServerState,
  StatRow,
  StatRowType,
} from './runtime-api.js';
export {
  backendServersOf,
  compareIds,
  DEFAULT_REMOVE_DISCONNECTED_NODE_AFTER,
  parseServerAddress,
  planMembership,
  rebalanceClusterOf,
} from './membership.js';
export type { BackendServer, ClusterMember, MembershipPlan, MockClusterNodes, RebalanceCluster } from './membership.js';
export { HaproxyRebalancer } from './rebalancer.js';
export {
  DEFAULT_ADMIN_STATE_DELAY,
  DEFAULT_NODE_DRAIN_TIMEOUT,
  DEFAULT_NODE_UP_TIMEOUT,
  DEFAULT_REBALANCE_CHUNK_DELAY,
  DEFAULT_REBALANCE_CHUNK_SIZE,
  DEFAULT_REBALANCE_SLEEP_TIME,
  DEFAULT_RECONNECTION_STABILITY_TIME,
  DEFAULT_STATUS_SYNC_TIME,
} from './rebalancer-types.js';
export type {
  BalanceMoves,
  HaproxyRebalancerEvents,
  HaproxyRebalancerOptions,
  MembershipResult,
  MigrationResult,
  NodeRemovalResult,
  RebalancerRuntime,
  RebalanceRunResult,
} from './rebalancer-types.js';
