/**
 * Human labels for the report's field names, so the HTML report and the terminal summary say
 * "in flight on lost connections" where the JSON says `inFlightOnLostConnections`.
 *
 * @module
 */

const LOST_CAUSES: Record<string, string> = {
  inFlightOnLostConnections: 'in flight on lost connections (written, never confirmed)',
  inFlightOnKilledConnections: 'in flight on killed connections (written, never confirmed)',
  droppedByBuffer: 'dropped by the agents’ buffers',
  unexplained: 'unexplained (an accounting bug: please report it)',
};

/**
 * Words of a camelCase name: `timeReconnectMs` → `time reconnect ms`.
 *
 * @param name - a field name.
 * @returns the words, lower case, separated by spaces.
 */
export function words(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase();
}

/**
 * What a cause of lost events (a key of `lostExplained`) means, in words.
 *
 * @param cause - the key (`inFlightOnLostConnections`).
 * @returns the label (`in flight on lost connections (written, never confirmed)`).
 */
export function describeLostCause(cause: string): string {
  return LOST_CAUSES[cause] ?? words(cause);
}

const SETTINGS: Record<string, string> = {
  agents: 'agents (--agents)',
  target: 'target (--manager, --cluster or --config)',
  spread: 'agent i starts at server i mod N (--no-spread turns it off)',
  keysFile: 'agent keys file (--keys)',
  enroll: 'enrollment server (--enroll)',
  passwordFile: 'enrollment password file (--password-file)',
  groups: 'groups requested at enrollment (--groups)',
  protocol: 'protocol (--protocol)',
  crypto: 'cipher (--crypto)',
  strategy: 'reconnect strategy (--strategy)',
  jitter: 'reconnect delay jitter (--jitter)',
  notifyTimeMs: 'keepalive period (--notify)',
  timeReconnectMs: 'server silence before reconnecting (--time-reconnect)',
  rampPerSecond: 'agents started per second (--ramp; 0: all at once)',
  eps: 'events per second per agent (--eps)',
  workload: 'workload (--workload)',
  durationMs: 'duration (--duration; 0: until interrupted)',
  chaos: 'chaos schedule (--chaos)',
  workers: 'worker processes (--workers)',
  shard: 'shard (--shard)',
  reportPath: 'JSON report (--report)',
  htmlPath: 'HTML report (--html)',
  prometheusPort: 'Prometheus port (--prometheus)',
  prometheusHost: 'Prometheus address (--prometheus-host)',
  dashboardPort: 'dashboard port (--dashboard)',
  dashboardHost: 'dashboard address (--dashboard-host)',
  lb: 'load balancer (--lb)',
  seed: 'random seed (--seed)',
  quiet: 'no live progress (--quiet)',
  sourceIps: 'source addresses (--source-ips; 0: the OS chooses)',
  drainMs: 'time to drain the buffers at the end (--drain)',
  compressionLevel: 'zlib compression level (--compression-level)',
  servers: 'server list of each agent, before its rotation (node: address, attempts per round)',
  reconnect: 'reconnect parameters (--strategy, --jitter)',
  buffer: 'client buffer (<client_buffer> of --config)',
  handshakeTimeoutMs: 'wait for the startup ACK',
  delivery: 'delivery guarantee',
  enrollment: 'enrollment (--enroll)',
  stages: 'load stages (--stage)',
  scenario: 'scenario file (--scenario)',
  thresholds: 'thresholds (--threshold)',
  abortOnFail: 'end at the first failed threshold (--abort-on-fail)',
  connectDeadlineMs: 'deadline for the first connection (--connect-deadline)',
  startAt: 'planned start (--start-at)',
};

/**
 * What a setting of the report's `config` is, in words, with the flag that sets it.
 *
 * @param key - the field (`notifyTimeMs`).
 * @returns the label (`keepalive period (--notify)`); unknown fields give their words.
 */
export function describeSetting(key: string): string {
  return SETTINGS[key] ?? words(key).replace(/ ms$/, '');
}
