/**
 * The agentlink test kit (`agentlink/testing`): a wazuh-remoted-compatible mock manager with
 * switchable faults, a mock cluster, a fault-injecting TCP proxy and the shared key store.
 *
 * @module
 */
export { KeyStore } from './keystore.js';
export type { KeyStoreEvents, GenerateKeysOptions } from './keystore.js';
export { MockManager } from './manager/mock-manager.js';
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
} from './manager/types.js';
export { isProgramEvent } from './waiters.js';
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
  NodeRemoval,
  RebalanceOptions,
  RebalanceResult,
  RemoveNodeOptions,
} from './cluster-types.js';
export { MockAuthd, DEFAULT_AUTHD_REQUEST_TIMEOUT, DEFAULT_AUTHD_FORCE_TIME } from './authd.js';
export type {
  AgentConnectionStatus,
  AgentStatusInfo,
  MockAuthdEvents,
  MockAuthdFaults,
  MockAuthdForceOptions,
  MockAuthdOptions,
  MockAuthdStats,
} from './authd.js';
export { TEST_CA_CERT, TEST_SERVER_CERT, TEST_SERVER_KEY, TEST_CLIENT_CERT, TEST_CLIENT_KEY } from './certs.js';
export { createMemoryNetwork } from '../transport/memory.js';
export type {
  MemoryConnection,
  MemoryConnectionEvents,
  MemoryNetwork,
  MemoryNetworkOptions,
  MemoryServer,
  MemoryServerEvents,
  MemoryUnreachableMode,
} from '../transport/memory.js';
export * from './lb/index.js';
