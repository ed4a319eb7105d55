/**
 * The agentlink test kit (`agentlink/testing`): a wazuh-remoted-compatible mock manager with
 * switchable faults, a mock cluster, a fault-injecting TCP proxy and the shared key store.
 *
 * @module
 */
export { KeyStore } from './keystore.js';
export type { KeyStoreEvents, GenerateKeysOptions } from './keystore.js';
