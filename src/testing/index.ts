/**
 * The agentlink test kit (`agentlink/testing`): a wazuh-remoted-compatible mock manager with
 * switchable faults, a mock cluster, a fault-injecting TCP proxy and the shared key store.
 *
 * @module
 */
export { KeyStore } from './keystore.js';
export type { KeyStoreEvents, GenerateKeysOptions } from './keystore.js';
export { MockManager } from './mock-manager.js';
export type {
  AgentStatus,
  AgentRecord,
  AgentStats,
  ManagerProtocol,
  MockManagerEvents,
  MockManagerOptions,
  MockManagerStats,
  PeerInfo,
  ReceivedEvent,
  SharedFileInput,
  WaitForAgentsOptions,
  WaitForEventsOptions,
} from './mock-manager.js';
export { defaultFaults } from './faults.js';
export type { AgentIds, AgentSelector, CorruptMode, FaultsUpdate, ManagerFaults } from './faults.js';
export { FaultProxy } from './fault-proxy.js';
export type { FaultProxyEvents, FaultProxyOptions, FaultProxyStats, PerDirection, ProxyDirection } from './fault-proxy.js';
export { MockCluster } from './cluster.js';
export type {
  ClusterServer,
  MockClusterEvents,
  MockClusterOptions,
  MockClusterStats,
  RebalanceOptions,
  RebalanceResult,
} from './cluster.js';
