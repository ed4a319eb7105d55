/**
 * `resolveOptions()`: validates `AgentClientOptions` once and fills every default.
 *
 * @module
 */
import { isIP } from 'node:net';
import { isValidAgentId, isValidAgentName, isValidKeyIp, parseClientKeys } from '../protocol/keys.js';
import type { AgentKey } from '../protocol/types.js';
import { hostFacts, type HostFacts } from './host.js';
import { PartInterner } from './intern.js';
import {
  DEFAULT_AGENT_VERSION,
  DEFAULT_AUTO_RESTART,
  DEFAULT_BACKOFF_FACTOR,
  DEFAULT_BACKOFF_INITIAL_DELAY,
  DEFAULT_BACKOFF_JITTER,
  DEFAULT_BACKOFF_MAX_ATTEMPTS,
  DEFAULT_BACKOFF_MAX_DELAY,
  DEFAULT_BUFFER_TOLERANCE,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_COMPRESSION_LEVEL,
  DEFAULT_CRYPTO_METHOD,
  DEFAULT_DELAY_AFTER_ENROLLMENT,
  DEFAULT_ENROLLMENT_PORT,
  DEFAULT_EVENTS_PER_SECOND,
  DEFAULT_FORCE_RECONNECT_INTERVAL,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_IP_UPDATE_INTERVAL,
  DEFAULT_JITTER,
  DEFAULT_KEY_IP,
  DEFAULT_MAX_RETRIES,
  DEFAULT_NOTIFY_TIME,
  DEFAULT_OVERFLOW,
  DEFAULT_PORT,
  DEFAULT_PROTOCOL,
  DEFAULT_QUEUE_SIZE,
  DEFAULT_RETRY_INTERVAL,
  DEFAULT_TIME_RECONNECT,
  DEFAULT_DELIVERY,
  DEFAULT_PERSISTENT,
  DEFAULT_RETRANSMIT_MAX_BYTES,
  DEFAULT_RETRANSMIT_MAX_EVENTS,
  MAX_COMPRESSION_LEVEL,
  MAX_ENROLLMENT_GROUPS,
  MAX_RETRANSMIT_EVENTS,
  MAX_EVENTS_PER_SECOND,
  MAX_HANDSHAKE_TIMEOUT,
  MAX_QUEUE_SIZE,
  MAX_TIMER_DELAY,
  MIN_EVENTS_PER_SECOND,
  MIN_HANDSHAKE_TIMEOUT,
  type AgentClientOptions,
  type AgentLabel,
  type DeliveryMode,
  type OverflowPolicy,
  type ReconnectPolicyFunction,
  type ResolvedAgentClientOptions,
  type ResolvedBufferOptions,
  type ResolvedEnrollmentOptions,
  type ResolvedReconnect,
  type ResolvedRetransmitOptions,
  type ResolvedServer,
} from './options.js';
import {
  REDACTED,
  checkAgentAddress,
  checkGroup,
  checkHost,
  checkLabel,
  checkOneOf,
  configError,
  optBoolean,
  optNumber,
  show,
  type NumberRule,
} from './validate.js';
import type { UnameInfo } from '../protocol/uname.js';

/** One interner per resolved part that clients share (see intern.ts). */
const shared = {
  servers: new PartInterner(),
  reconnect: new PartInterner(),
  buffer: new PartInterner(),
  enrollment: new PartInterner(),
  labels: new PartInterner(),
  retransmit: new PartInterner(),
};

/** Largest `notifyTime`: three times it (the `timeReconnect` floor) must still fit a timer. */
const MAX_NOTIFY_TIME = Math.floor(MAX_TIMER_DELAY / 3);
/** Longest client.keys key Wazuh reads (`KEYSIZE` − 1). */
const MAX_KEY_LENGTH = 127;

const DURATION = (min: number, max = MAX_TIMER_DELAY): NumberRule => ({ min, max, unit: 'milliseconds' });
const PORT: NumberRule = { min: 1, max: 65535, integer: true };
// The rules of every client's options, built once (resolveOptions runs for each of thousands of clients).
const ANY_DURATION = DURATION(0);
const NOTIFY_TIME = DURATION(0, MAX_NOTIFY_TIME);
const HANDSHAKE_TIMEOUT = DURATION(MIN_HANDSHAKE_TIMEOUT, MAX_HANDSHAKE_TIMEOUT);
const COMPRESSION_LEVEL: NumberRule = { min: 0, max: MAX_COMPRESSION_LEVEL, integer: true };
const MAX_RETRIES: NumberRule = { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true };
const RETRY_INTERVAL: NumberRule = { min: 0, max: MAX_TIMER_DELAY, minExclusive: true, unit: 'milliseconds' };
const FACTOR: NumberRule = { min: 1, max: Number.MAX_SAFE_INTEGER };
const MAX_ATTEMPTS: NumberRule = { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true };
const RETRANSMIT_EVENTS: NumberRule = { min: 1, max: MAX_RETRANSMIT_EVENTS, integer: true, unit: 'events' };
const RETRANSMIT_BYTES: NumberRule = { min: 1024, max: 2 ** 32, integer: true, unit: 'bytes' };
const EVENTS_PER_SECOND: NumberRule = { min: 1, max: MAX_EVENTS_PER_SECOND, integer: true, unit: 'events per second' };
const QUEUE_SIZE: NumberRule = { min: 1, max: MAX_QUEUE_SIZE, integer: true, unit: 'events' };

/** Every top-level option, so a misspelled one (`notifytime`) is an error instead of being ignored. */
const TOP_KEYS: Record<keyof AgentClientOptions, true> = {
  agent: true,
  keys: true,
  servers: true,
  notifyTime: true,
  timeReconnect: true,
  handshakeTimeout: true,
  connectTimeout: true,
  cryptoMethod: true,
  compressionLevel: true,
  reconnect: true,
  forceReconnectInterval: true,
  ipUpdateInterval: true,
  buffer: true,
  enrollment: true,
  labels: true,
  uname: true,
  version: true,
  agentConfigSum: true,
  counterStore: true,
  logger: true,
  signal: true,
  persistent: true,
  delivery: true,
  retransmit: true,
  localAddress: true,
  configProfile: true,
  autoRestart: true,
};
const TOP_NAMES = Object.keys(TOP_KEYS);
const SERVER_KEYS = ['address', 'port', 'protocol', 'maxRetries', 'retryInterval'] as const;
const AGENT_KEYS = ['id', 'name', 'key', 'ip'] as const;
const BUFFER_KEYS = ['disabled', 'queueSize', 'eventsPerSecond', 'overflow', 'tolerance'] as const;
const WAZUH_KEYS = ['strategy', 'jitter'] as const;
const BACKOFF_KEYS = ['strategy', 'initialDelay', 'maxDelay', 'factor', 'jitter', 'maxAttempts'] as const;
const ENROLLMENT_KEYS = [
  'enabled',
  'managerAddress',
  'port',
  'agentName',
  'groups',
  'agentAddress',
  'password',
  'ca',
  'cert',
  'key',
  'delayAfterEnrollment',
  'timeout',
] as const;
const LABEL_KEYS = ['key', 'value', 'hidden'] as const;
const UNAME_KEYS = ['sysname', 'nodename', 'release', 'version', 'machine', 'osName', 'osPlatform', 'osVersion'] as const;
const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['drop-newest', 'drop-oldest', 'reject'];
const DELIVERY_MODES: readonly DeliveryMode[] = ['at-most-once', 'at-least-once'];
const RETRANSMIT_KEYS = ['maxEvents', 'maxBytes', 'barrierInterval'] as const;
/** Unknown keys that may hold a secret (misspellings included): their value is not copied into the error. */
const SECRET_NAME_RE = /pas|pw|secret|token|key|cert/i;
const SECRET_SECTIONS = new Set(['agent', 'enrollment']);

/**
 * Validates agent options and fills every default. `AgentClient` calls it once; call it yourself to
 * check a configuration early (the CLI does).
 *
 * Rules beyond the ranges in the option docs: at least one server; `agent` and `keys` are exclusive;
 * without an identity, enrollment must be enabled (it is by default); `notifyTime` 0 and
 * `timeReconnect` 0 mean their defaults, and `timeReconnect` is raised to 3 × `notifyTime` when it is not
 * above it (Wazuh's main.c); `eventsPerSecond` below 50 is raised to 50; unknown option names are
 * errors, so a misspelled option is never silently ignored.
 *
 * @example
 * ```ts
 * const resolved = resolveOptions({ servers: [{ address: 'manager.example' }], keys: text });
 * resolved.timeReconnect; // 60000
 * ```
 *
 * @param options - the options as given.
 * @returns a new object with every field validated and filled.
 * @throws {@link ConfigError} whose `element` is the option path (`servers[1].port`) and whose `value` is
 *   the offending value (secrets show as `[redacted]`); `ERR_CONFIG_KEYS` for a bad `keys` line.
 */
export function resolveOptions(options: AgentClientOptions): ResolvedAgentClientOptions {
  if (!isPlainObject(options)) throw configError('options', `options must be an object; got ${show(options)}`, safeValue(options));
  checkKnownKeys(options, TOP_NAMES, '');

  const agent = resolveIdentity(options);
  // the host name is read at most once per client, when a default needs it (it can change while a program runs)
  let facts: HostFacts | undefined;
  const host = (): HostFacts => (facts ??= hostFacts());
  const servers = shared.servers.intern(resolveServers(options.servers));

  const notifyRaw = optNumber(options.notifyTime, 'notifyTime', NOTIFY_TIME, 0);
  const notifyTime = notifyRaw === 0 ? DEFAULT_NOTIFY_TIME : notifyRaw;
  const reconnectRaw = optNumber(options.timeReconnect, 'timeReconnect', ANY_DURATION, 0);
  let timeReconnect = reconnectRaw === 0 ? DEFAULT_TIME_RECONNECT : reconnectRaw;
  if (timeReconnect <= notifyTime) timeReconnect = 3 * notifyTime;

  return {
    agent,
    servers,
    notifyTime,
    timeReconnect,
    handshakeTimeout: optNumber(
      options.handshakeTimeout,
      'handshakeTimeout',
      HANDSHAKE_TIMEOUT,
      DEFAULT_HANDSHAKE_TIMEOUT,
    ),
    connectTimeout: optNumber(options.connectTimeout, 'connectTimeout', ANY_DURATION, DEFAULT_CONNECT_TIMEOUT),
    cryptoMethod:
      options.cryptoMethod === undefined ? DEFAULT_CRYPTO_METHOD : checkOneOf(options.cryptoMethod, 'cryptoMethod', ['aes', 'blowfish']),
    compressionLevel: optNumber(options.compressionLevel, 'compressionLevel', COMPRESSION_LEVEL, DEFAULT_COMPRESSION_LEVEL),
    reconnect: options.reconnect === undefined ? shared.reconnect.absent(undefined, undefined, resolveReconnect) : shared.reconnect.intern(resolveReconnect(options.reconnect)),
    forceReconnectInterval: optNumber(
      options.forceReconnectInterval,
      'forceReconnectInterval',
      ANY_DURATION,
      DEFAULT_FORCE_RECONNECT_INTERVAL,
    ),
    ipUpdateInterval: optNumber(options.ipUpdateInterval, 'ipUpdateInterval', ANY_DURATION, DEFAULT_IP_UPDATE_INTERVAL),
    buffer: options.buffer === undefined ? shared.buffer.absent(undefined, undefined, resolveBuffer) : shared.buffer.intern(resolveBuffer(options.buffer)),
    enrollment:
      options.enrollment === undefined
        ? shared.enrollment.absent(agent !== undefined, host(), defaultEnrollment)
        : shared.enrollment.intern(resolveEnrollment(options.enrollment, agent !== undefined, host)),
    labels: options.labels === undefined ? shared.labels.absent(undefined, undefined, resolveLabels) : shared.labels.intern(resolveLabels(options.labels)),
    uname: resolveUname(options.uname, host),
    version: resolveVersion(options.version),
    agentConfigSum: resolveConfigSum(options.agentConfigSum),
    counterStore: checkMethods(options.counterStore, 'counterStore', ['load', 'save']),
    logger: checkMethods(options.logger, 'logger', ['debug', 'info', 'warn', 'error', 'child']),
    signal: resolveSignal(options.signal),
    persistent: optBoolean(options.persistent, 'persistent', DEFAULT_PERSISTENT),
    delivery: resolveDelivery(options.delivery, servers),
    retransmit:
      options.retransmit === undefined
        ? shared.retransmit.absent(undefined, notifyTime, resolveRetransmit)
        : shared.retransmit.intern(resolveRetransmit(options.retransmit, notifyTime)),
    localAddress: resolveLocalAddress(options.localAddress),
    configProfile: optString(options.configProfile, 'configProfile'),
    autoRestart: optBoolean(options.autoRestart, 'autoRestart', DEFAULT_AUTO_RESTART),
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** A value safe to put in an error: objects that may hold secrets are not copied. */
function safeValue(v: unknown): unknown {
  return typeof v === 'object' && v !== null ? REDACTED : v;
}

/** The type of a value, for messages about values that may be secrets. */
function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (Buffer.isBuffer(v)) return 'a Buffer';
  return `a ${typeof v}`;
}

function join(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`;
}

function checkKnownKeys(obj: object, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const value = (obj as Record<string, unknown>)[key];
    const element = join(prefix, key);
    const guess = closest(key, known);
    const hint = guess ? ` Did you mean '${join(prefix, guess)}'?` : '';
    throw configError(
      element,
      `Unknown option '${element}'.${hint} Known ${prefix === '' ? 'options' : `options of '${prefix}'`}: ${known.join(', ')}`,
      SECRET_NAME_RE.test(key) || SECRET_SECTIONS.has(prefix) ? REDACTED : safeValue(value),
    );
  }
}

/** The known name closest to a misspelled one (same letters ignoring case, or at most 2 edits). */
function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    if (k.toLowerCase() === lower) return k;
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 3;
}

function optString(v: unknown, element: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw configError(element, `${element} must be a string; got ${show(v)}`, v);
  return v;
}

function resolveIdentity(options: AgentClientOptions): AgentKey | undefined {
  if (options.agent !== undefined && options.keys !== undefined) {
    throw configError('keys', 'Give either agent or keys, not both: both name the agent identity', REDACTED);
  }
  if (options.agent !== undefined) return resolveAgent(options.agent);
  if (options.keys !== undefined) {
    if (typeof options.keys !== 'string') {
      throw configError('keys', `keys must be client.keys text (a string); got ${kind(options.keys)}`, REDACTED);
    }
    // The first entry is the agent's own (protocol.md 2.1); any bad line has thrown; an empty file means "enroll".
    return parseClientKeys(options.keys)[0];
  }
  return undefined;
}

function resolveAgent(agent: unknown): AgentKey {
  if (!isPlainObject(agent)) {
    throw configError('agent', `agent must be an object { id, name, key, ip? }; got ${kind(agent)}`, REDACTED);
  }
  checkKnownKeys(agent, AGENT_KEYS, 'agent');
  const { id, name, key, ip } = agent;
  if (typeof id !== 'string' || !isValidAgentId(id)) {
    throw configError('agent.id', `agent.id must be a string of 1 to 8 digits (e.g. '001'); got ${show(id)}`, id);
  }
  if (typeof name !== 'string' || !isValidAgentName(name)) {
    throw configError(
      'agent.name',
      `agent.name must be 2 to 128 characters of [A-Za-z0-9._-], not starting with '.'; got ${show(name)}`,
      name,
    );
  }
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH || /[\r\n]/.test(key)) {
    throw configError(
      'agent.key',
      `agent.key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters without line breaks (a client.keys key)`,
      REDACTED,
    );
  }
  let keyIp = DEFAULT_KEY_IP;
  if (ip !== undefined) {
    if (typeof ip !== 'string' || !isValidKeyIp(ip)) {
      throw configError('agent.ip', `agent.ip must be 'any', an IP address or a CIDR block; got ${show(ip)}`, ip);
    }
    keyIp = ip;
  }
  return { id, name, key, ip: keyIp };
}

function resolveServers(servers: unknown): ResolvedServer[] {
  if (!Array.isArray(servers) || servers.length === 0) {
    throw configError(
      'servers',
      `servers must be a non-empty array of { address, port?, protocol?, maxRetries?, retryInterval? } ((4105): No valid server IP found); got ${show(servers)}`,
      safeValue(servers),
    );
  }
  return servers.map((s: unknown, i): ResolvedServer => {
    const path = `servers[${i}]`;
    if (!isPlainObject(s)) throw configError(path, `${path} must be an object { address, port?, ... }; got ${show(s)}`, safeValue(s));
    checkKnownKeys(s, SERVER_KEYS, path);
    return {
      address: checkHost(s.address, `${path}.address`),
      port: optNumber(s.port, `${path}.port`, PORT, DEFAULT_PORT),
      protocol: s.protocol === undefined ? DEFAULT_PROTOCOL : checkOneOf(s.protocol, `${path}.protocol`, ['tcp', 'udp']),
      maxRetries: optNumber(s.maxRetries, `${path}.maxRetries`, MAX_RETRIES, DEFAULT_MAX_RETRIES),
      retryInterval: optNumber(
        s.retryInterval,
        `${path}.retryInterval`,
        RETRY_INTERVAL,
        DEFAULT_RETRY_INTERVAL,
      ),
    };
  });
}

const JITTER: NumberRule = { min: 0, max: 1 };

function resolveReconnect(r: unknown): ResolvedReconnect {
  if (r === undefined) return { strategy: 'wazuh', jitter: DEFAULT_JITTER };
  if (typeof r === 'function') return { strategy: 'custom', policy: r as ReconnectPolicyFunction };
  if (!isPlainObject(r)) {
    throw configError('reconnect', `reconnect must be { strategy: 'wazuh' | 'backoff', ... } or a function; got ${show(r)}`, safeValue(r));
  }
  const strategy = checkOneOf(r.strategy, 'reconnect.strategy', ['wazuh', 'backoff']);
  if (strategy === 'wazuh') {
    checkKnownKeys(r, WAZUH_KEYS, 'reconnect');
    return { strategy, jitter: optNumber(r.jitter, 'reconnect.jitter', JITTER, DEFAULT_JITTER) };
  }
  checkKnownKeys(r, BACKOFF_KEYS, 'reconnect');
  const initialDelay = optNumber(r.initialDelay, 'reconnect.initialDelay', ANY_DURATION, DEFAULT_BACKOFF_INITIAL_DELAY);
  const maxDelay = optNumber(
    r.maxDelay,
    'reconnect.maxDelay',
    DURATION(initialDelay),
    Math.max(DEFAULT_BACKOFF_MAX_DELAY, initialDelay),
  );
  return {
    strategy,
    initialDelay,
    maxDelay,
    factor: optNumber(r.factor, 'reconnect.factor', FACTOR, DEFAULT_BACKOFF_FACTOR),
    jitter: optNumber(r.jitter, 'reconnect.jitter', JITTER, DEFAULT_BACKOFF_JITTER),
    maxAttempts: optNumber(
      r.maxAttempts,
      'reconnect.maxAttempts',
      MAX_ATTEMPTS,
      DEFAULT_BACKOFF_MAX_ATTEMPTS,
    ),
  };
}

function resolveDelivery(d: unknown, servers: readonly ResolvedServer[]): DeliveryMode {
  const mode = d === undefined ? DEFAULT_DELIVERY : checkOneOf(d, 'delivery', DELIVERY_MODES);
  const udp = mode === 'at-least-once' ? servers.findIndex((s) => s.protocol === 'udp') : -1;
  if (udp >= 0) {
    throw configError(
      'delivery',
      `delivery 'at-least-once' needs TCP, but servers[${udp}] uses UDP: there an ACKed keepalive does not prove that each earlier datagram arrived. Use protocol 'tcp' or delivery 'at-most-once'.`,
      mode,
    );
  }
  return mode;
}

function resolveRetransmit(r: unknown, notifyTime: number): ResolvedRetransmitOptions {
  if (r !== undefined && !isPlainObject(r)) throw configError('retransmit', `retransmit must be an object; got ${show(r)}`, safeValue(r));
  const o = (r ?? {}) as Record<string, unknown>;
  checkKnownKeys(o, RETRANSMIT_KEYS, 'retransmit');
  const barrier = optNumber(o.barrierInterval, 'retransmit.barrierInterval', ANY_DURATION, 0);
  return {
    maxEvents: optNumber(o.maxEvents, 'retransmit.maxEvents', RETRANSMIT_EVENTS, DEFAULT_RETRANSMIT_MAX_EVENTS),
    maxBytes: optNumber(o.maxBytes, 'retransmit.maxBytes', RETRANSMIT_BYTES, DEFAULT_RETRANSMIT_MAX_BYTES),
    barrierInterval: barrier === 0 ? notifyTime : barrier,
  };
}

function resolveBuffer(b: unknown): ResolvedBufferOptions {
  if (b !== undefined && !isPlainObject(b)) throw configError('buffer', `buffer must be an object; got ${show(b)}`, safeValue(b));
  const buf = (b ?? {}) as Record<string, unknown>;
  checkKnownKeys(buf, BUFFER_KEYS, 'buffer');
  const eps = optNumber(
    buf.eventsPerSecond,
    'buffer.eventsPerSecond',
    EVENTS_PER_SECOND,
    DEFAULT_EVENTS_PER_SECOND,
  );
  return {
    disabled: optBoolean(buf.disabled, 'buffer.disabled', false),
    queueSize: optNumber(buf.queueSize, 'buffer.queueSize', QUEUE_SIZE, DEFAULT_QUEUE_SIZE),
    eventsPerSecond: Math.max(eps, MIN_EVENTS_PER_SECOND),
    overflow: buf.overflow === undefined ? DEFAULT_OVERFLOW : checkOneOf(buf.overflow, 'buffer.overflow', OVERFLOW_POLICIES),
    tolerance: optNumber(buf.tolerance, 'buffer.tolerance', ANY_DURATION, DEFAULT_BUFFER_TOLERANCE),
  };
}

/** The enrollment part of a client that leaves `enrollment` out. */
function defaultEnrollment(hasAgent: boolean, facts: HostFacts): ResolvedEnrollmentOptions {
  return resolveEnrollment(undefined, hasAgent, () => facts);
}

function resolveEnrollment(e: unknown, hasAgent: boolean, host: () => HostFacts): ResolvedEnrollmentOptions {
  if (e !== undefined && !isPlainObject(e)) {
    throw configError('enrollment', `enrollment must be an object; got ${show(e)}`, safeValue(e));
  }
  const en = (e ?? {}) as Record<string, unknown>;
  checkKnownKeys(en, ENROLLMENT_KEYS, 'enrollment');
  const enabled = optBoolean(en.enabled, 'enrollment.enabled', !hasAgent);
  if (!enabled && !hasAgent) {
    throw configError(
      'enrollment.enabled',
      'No agent key: give agent or keys, or leave enrollment enabled ((4109): Unable to start without auth keys)',
      en.enabled,
    );
  }

  let agentName: string;
  if (en.agentName !== undefined) {
    if (typeof en.agentName !== 'string' || !isValidAgentName(en.agentName)) {
      throw configError(
        'enrollment.agentName',
        `enrollment.agentName must be 2 to 128 characters of [A-Za-z0-9._-], not starting with '.'; got ${show(en.agentName)}`,
        en.agentName,
      );
    }
    agentName = en.agentName;
  } else {
    agentName = host().agentName;
    if (enabled && !isValidAgentName(agentName)) {
      throw configError(
        'enrollment.agentName',
        `The host name gives no valid agent name (${show(agentName)}): set enrollment.agentName (2 to 128 characters of [A-Za-z0-9._-])`,
        agentName,
      );
    }
  }
  if (enabled && agentName === 'localhost') {
    throw configError(
      'enrollment.agentName',
      "'localhost' cannot be an agent name (the manager refuses it): set enrollment.agentName to this agent's name",
      agentName,
    );
  }

  let groups: string[] = [];
  if (en.groups !== undefined) {
    if (!Array.isArray(en.groups)) throw configError('enrollment.groups', `enrollment.groups must be an array of group names; got ${show(en.groups)}`, en.groups);
    if (en.groups.length > MAX_ENROLLMENT_GROUPS) {
      throw configError(
        'enrollment.groups',
        `enrollment.groups holds ${en.groups.length} groups; at most ${MAX_ENROLLMENT_GROUPS} are allowed`,
        en.groups.length,
      );
    }
    groups = en.groups.map((g: unknown, i) => checkGroup(g, `enrollment.groups[${i}]`));
  }

  let password: string | undefined;
  if (en.password !== undefined) {
    if (typeof en.password !== 'string' || en.password.length <= 2) {
      throw configError('enrollment.password', 'enrollment.password must be a string longer than 2 characters', REDACTED);
    }
    password = en.password;
  }

  return {
    enabled,
    managerAddress: en.managerAddress === undefined ? undefined : checkHost(en.managerAddress, 'enrollment.managerAddress'),
    port: optNumber(en.port, 'enrollment.port', PORT, DEFAULT_ENROLLMENT_PORT),
    agentName,
    groups,
    agentAddress: en.agentAddress === undefined ? undefined : checkAgentAddress(en.agentAddress, 'enrollment.agentAddress'),
    password,
    ca: optPem(en.ca, 'enrollment.ca', false),
    cert: optPem(en.cert, 'enrollment.cert', false),
    key: optPem(en.key, 'enrollment.key', true),
    delayAfterEnrollment: optNumber(en.delayAfterEnrollment, 'enrollment.delayAfterEnrollment', ANY_DURATION, DEFAULT_DELAY_AFTER_ENROLLMENT),
    timeout: optNumber(
      en.timeout,
      'enrollment.timeout',
      HANDSHAKE_TIMEOUT,
      DEFAULT_HANDSHAKE_TIMEOUT, // agent.recv_timeout bounds both the handshake and the enrollment TLS reads
    ),
  };
}

function optPem(v: unknown, element: string, secret: boolean): string | Buffer | undefined {
  if (v === undefined) return undefined;
  if ((typeof v === 'string' && v.length > 0) || (Buffer.isBuffer(v) && v.length > 0)) return v;
  throw configError(element, `${element} must be non-empty PEM text (a string or Buffer)`, secret ? REDACTED : safeValue(v));
}

function resolveLabels(labels: unknown): AgentLabel[] {
  if (labels === undefined) return [];
  const out: AgentLabel[] = [];
  const seen = new Set<string>();
  const add = (key: unknown, value: unknown, hidden: boolean, element: string): void => {
    checkLabel(key, value, element);
    const k = key as string;
    if (seen.has(k)) throw configError(element, `${element}: label '${k}' is given twice`, k);
    seen.add(k);
    out.push({ key: k, value: value as string, hidden });
  };
  if (Array.isArray(labels)) {
    labels.forEach((l: unknown, i) => {
      const path = `labels[${i}]`;
      if (!isPlainObject(l)) throw configError(path, `${path} must be an object { key, value, hidden? }; got ${show(l)}`, safeValue(l));
      checkKnownKeys(l, LABEL_KEYS, path);
      add(l.key, l.value, optBoolean(l.hidden, `${path}.hidden`, false), path);
    });
    return out;
  }
  if (isPlainObject(labels)) {
    for (const [k, v] of Object.entries(labels)) add(k, v, false, `labels.${k}`);
    return out;
  }
  throw configError('labels', `labels must be an array of { key, value, hidden? } or an object of strings; got ${show(labels)}`, labels);
}

function resolveUname(u: unknown, host: () => HostFacts): UnameInfo | string {
  if (u === undefined) return host().uname;
  if (typeof u === 'string') {
    if (u.length === 0 || /[\r\n]/.test(u)) throw configError('uname', `uname must be a non-empty line without line breaks; got ${show(u)}`, u);
    return u;
  }
  if (!isPlainObject(u)) throw configError('uname', `uname must be a string or { sysname, nodename, release, version, machine, ... }; got ${show(u)}`, u);
  checkKnownKeys(u, UNAME_KEYS, 'uname');
  const info: Record<string, string> = {};
  for (const field of UNAME_KEYS) {
    const v = u[field];
    const optional = field.startsWith('os');
    if (v === undefined && optional) continue;
    if (typeof v !== 'string' || /[\r\n]/.test(v)) {
      throw configError(`uname.${field}`, `uname.${field} must be a string without line breaks; got ${show(v)}`, v);
    }
    info[field] = v;
  }
  return info as unknown as UnameInfo;
}

function resolveVersion(v: unknown): string {
  if (v === undefined) return DEFAULT_AGENT_VERSION;
  if (typeof v !== 'string' || !/^v\d+\.\d+\.\d+$/.test(v)) {
    throw configError('version', `version must look like 'v4.14.7'; got ${show(v)}`, v);
  }
  return v;
}

function resolveConfigSum(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[0-9a-f]{32}$/.test(v)) {
    throw configError('agentConfigSum', `agentConfigSum must be an MD5 digest: 32 lowercase hex characters; got ${show(v)}`, v);
  }
  return v;
}

function checkMethods<T>(v: T | undefined, element: string, methods: readonly string[]): T | undefined {
  if (v === undefined) return undefined;
  const missing =
    typeof v !== 'object' || v === null ? methods : methods.filter((m) => typeof (v as Record<string, unknown>)[m] !== 'function');
  if (missing.length > 0) {
    throw configError(element, `${element} must be an object with ${methods.join(', ')} methods; missing ${missing.join(', ')}`, safeValue(v));
  }
  return v;
}

function resolveSignal(v: unknown): AbortSignal | undefined {
  if (v === undefined) return undefined;
  if (!(v instanceof AbortSignal)) throw configError('signal', `signal must be an AbortSignal; got ${show(v)}`, safeValue(v));
  return v;
}

function resolveLocalAddress(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || isIP(v) === 0) {
    throw configError('localAddress', `localAddress must be an IP address of this host; got ${show(v)}`, v);
  }
  return v;
}
