/**
 * ossec.conf → agent options (protocol.md 6). Pure: no file system, no network.
 *
 * Reads every `<ossec_config>` root of a real agent file (packaged agents ship several), and in them
 * `<client>` (with `<server>`, `<enrollment>` and the legacy elements), `<client_buffer>` and `<labels>`.
 * Other sections (`<syscheck>`, `<localfile>`, wodles, ...) are ignored. Several `<client>` blocks
 * behave as in Wazuh: later blocks add servers and override scalar settings.
 *
 * @module
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import { isValidAgentName } from '../protocol/keys.js';
import type { CryptoMethod } from '../protocol/types.js';
import {
  DEFAULT_AUTO_RESTART,
  DEFAULT_IP_UPDATE_INTERVAL,
  MAX_ENROLLMENT_GROUPS,
  MAX_EVENTS_PER_SECOND,
  MAX_QUEUE_SIZE,
  MAX_TIMER_DELAY,
  MIN_EVENTS_PER_SECOND,
  type AgentClientOptions,
  type AgentLabel,
  type BufferOptions,
  type EnrollmentOptions,
  type ServerOptions,
} from './options.js';
import { parseWazuhTime } from './time.js';
import { checkAgentAddress, checkGroup, checkHost, checkLabel, configError, isIPv6LinkLocal, isPlaceholderAddress } from './validate.js';
import { intValue, invalidElement, nonEmpty, parseXmlRoots, yesNo } from './xml-tree.js';
import type { XNode } from './xml-tree.js';

/** Options read from an ossec.conf: always a server list, labels as an array; milliseconds, like the API. */
export type OssecConfOptions = Omit<Partial<AgentClientOptions>, 'servers' | 'labels'> & {
  /** Usable servers in failover order (at least one). */
  servers: ServerOptions[];
  /** `<labels>`, when the file has any. */
  labels?: AgentLabel[];
};

/** Enrollment files named in `<client><enrollment>`, as written (relative paths are relative to the Wazuh directory). */
export interface OssecEnrollmentFiles {
  /** `<server_ca_path>`: PEM CA used to verify the manager. */
  serverCaPath?: string;
  /** `<agent_certificate_path>`: PEM client certificate. */
  agentCertificatePath?: string;
  /** `<agent_key_path>`: PEM client key. */
  agentKeyPath?: string;
  /** `<authorization_pass_path>`: file whose first line is the enrollment password. */
  authorizationPassPath?: string;
}

/** Enrollment settings of the ossec.conf that are not agent options. */
export interface OssecEnrollmentSettings extends OssecEnrollmentFiles {
  /** `<auto_method>yes`: accept any TLS version (default `no`: TLS 1.2 or newer). */
  autoMethod: boolean;
  /** `<ssl_cipher>`: OpenSSL cipher list, when set. */
  sslCipher: string | undefined;
}

/** What {@link parseOssecConf} returns. */
export interface OssecConfResult {
  /**
   * Agent options taken from the file, ready for `resolveOptions({ ...result.options, ...extra })`
   * (a top-level spread: an `extra.enrollment` or `extra.buffer` replaces the parsed one as a whole).
   * `timeReconnect` holds the raw `<time-reconnect>`; `resolveOptions()` applies the 3 × notifyTime rule.
   */
  options: OssecConfOptions;
  /** Things Wazuh would warn about (deprecated elements, ignored values), one line each. */
  warnings: string[];
  /** `<config-profile>`, when set. */
  configProfile: string | undefined;
  /** `<auto_restart>`. */
  autoRestart: boolean;
  /** `<ip_update_interval>` in milliseconds. */
  ipUpdateInterval: number;
  /** `<disable-active-response>yes`. */
  disableActiveResponse: boolean;
  /** Enrollment file paths and TLS settings; see `loadEnrollmentFiles()` to read the files. */
  enrollment: OssecEnrollmentSettings;
}

/** Largest value of an element counted in seconds: its milliseconds must fit a timer. */
const MAX_SECONDS = Math.floor(MAX_TIMER_DELAY / 1000);
/** Largest `<notify_time>` in seconds: 3 × notify_time must fit a timer. */
const MAX_NOTIFY_SECONDS = Math.floor(MAX_TIMER_DELAY / 3 / 1000);
const MAX_INT = 2_147_483_647;

/** `<client>` children Wazuh 3.x accepted as internal options; 4.x reads them from internal_options.conf. */
const LEGACY_INTERNAL = new Set([
  'state_interval',
  'recv_timeout',
  'remote_conf',
  'log_level',
  'recv_counter_flush',
  'comp_avg_printout',
  'verify_msg_id',
  'max_attempts',
  'thread_stack_size',
  'request',
]);

/** A configured server with the element that defined it (for error messages). */
interface ServerEntry {
  server: ServerOptions;
  element: string;
  /** Why it cannot be used: a placeholder address (4112) or a link-local address without interface (4114). */
  unusable?: '4112' | '4114';
}

interface State {
  servers: ServerEntry[];
  warnings: string[];
  options: Omit<Partial<AgentClientOptions>, 'servers' | 'labels'>;
  buffer: BufferOptions | undefined;
  enrollment: EnrollmentOptions | undefined;
  enrollmentSettings: OssecEnrollmentSettings;
  useSourceIp: { value: boolean; element: string } | undefined;
  agentAddressElement: string | undefined;
  labels: AgentLabel[];
  configProfile: string | undefined;
  autoRestart: boolean;
  ipUpdateInterval: number;
  disableActiveResponse: boolean;
  sawClient: boolean;
}

/**
 * The options `AgentClient.fromOssecConf` runs on: the file's options with `extra` over them
 * (`extra.enrollment` and `extra.buffer` complete the parsed ones field by field).
 *
 * @param xml - the whole ossec.conf text.
 * @param extra - options that override or complete it (identity, logger, ...).
 * @returns the merged options, not yet resolved.
 * @throws {@link ConfigError} as {@link parseOssecConf}.
 */
export function optionsFromOssecConf(xml: string, extra: Partial<AgentClientOptions> = {}): AgentClientOptions {
  const parsed = parseOssecConf(xml);
  const merged = { ...parsed.options, ...extra } as AgentClientOptions;
  if (parsed.options.enrollment && extra.enrollment) {
    merged.enrollment = { ...parsed.options.enrollment, ...extra.enrollment };
  }
  if (parsed.options.buffer && extra.buffer) merged.buffer = { ...parsed.options.buffer, ...extra.buffer };
  return merged;
}

/**
 * Parses an ossec.conf into agent options.
 *
 * @example
 * ```ts
 * const conf = parseOssecConf(await readFile('/var/ossec/etc/ossec.conf', 'utf8'));
 * for (const w of conf.warnings) logger.warn(w);
 * const options = resolveOptions({ ...conf.options, keys: await readFile('/var/ossec/etc/client.keys', 'utf8') });
 * ```
 *
 * @param xml - the whole file.
 * @returns the options, warnings and the ossec.conf-only settings.
 * @throws {@link ConfigError} `ERR_CONFIG_XML` when the text is not well-formed XML (the message and
 *   `element` give the line and column; `value` is `{ line, column }`), and `ERR_CONFIG` when an element
 *   has an impossible value or is unknown, naming the element (`client/server[2]/port`) and the value.
 *   Nothing else is ever thrown.
 */
export function parseOssecConf(xml: string): OssecConfResult {
  if (typeof xml !== 'string') {
    throw new ConfigError(`ossec.conf must be text; got ${typeof xml}`, { element: 'ossec.conf', value: typeof xml }, 'ERR_CONFIG_XML');
  }
  const roots = parseXmlRoots(xml);
  const configs = roots.filter((r) => r.name === 'ossec_config');
  const st: State = {
    servers: [],
    warnings: [],
    options: {},
    buffer: undefined,
    enrollment: undefined,
    enrollmentSettings: { autoMethod: false, sslCipher: undefined },
    useSourceIp: undefined,
    agentAddressElement: undefined,
    labels: [],
    configProfile: undefined,
    autoRestart: DEFAULT_AUTO_RESTART,
    ipUpdateInterval: DEFAULT_IP_UPDATE_INTERVAL,
    disableActiveResponse: false,
    sawClient: false,
  };
  for (const r of roots) {
    if (r.name !== 'ossec_config') st.warnings.push(`Root element <${r.name}> ignored: only <ossec_config> is read`);
  }
  if (configs.length === 0) {
    throw configError('ossec_config', 'ossec.conf has no <ossec_config> root element', roots[0]?.name);
  }

  const count = (name: string): number => configs.reduce((n, c) => n + c.children.filter((ch) => ch.name === name).length, 0);
  const totals = { client: count('client'), client_buffer: count('client_buffer'), labels: count('labels') };
  const seen = { client: 0, client_buffer: 0, labels: 0 };
  const pathOf = (name: keyof typeof totals): string => {
    seen[name]++;
    return totals[name] > 1 ? `${name}[${seen[name]}]` : name;
  };

  for (const conf of configs) {
    for (const node of conf.children) {
      if (node.name === 'client') readClient(st, node, pathOf('client'));
      else if (node.name === 'client_buffer') readBuffer(st, node, pathOf('client_buffer'));
      else if (node.name === 'labels') readLabels(st, node, pathOf('labels'));
    }
  }
  return finish(st);
}

// ---------------------------------------------------------------------------------------------
// Sections

const CLIENT_ELEMENTS = [
  'server',
  'config-profile',
  'notify_time',
  'time-reconnect',
  'force_reconnect_interval',
  'ip_update_interval',
  'auto_restart',
  'crypto_method',
  'disable-active-response',
  'local_ip',
  'enrollment',
  'server-ip',
  'server-hostname',
  'port',
  'protocol',
] as const;

function readClient(st: State, client: XNode, prefix: string): void {
  st.sawClient = true;
  const firstOfBlock = st.servers.length;
  let legacyPort: number | undefined;
  let legacyProtocol: 'tcp' | 'udp' | undefined;
  let serverIndex = 0;
  const serverCount = client.children.filter((c) => c.name === 'server').length;

  for (const node of client.children) {
    const el = `${prefix}/${node.name}`;
    switch (node.name) {
      case 'server':
        serverIndex++;
        st.servers.push(readServer(st, node, serverCount > 1 ? `${prefix}/server[${serverIndex}]` : `${prefix}/server`));
        break;
      case 'server-ip': {
        st.warnings.push(`${el} is deprecated: use <server><address>`);
        if (isIP(node.text) === 0) throw configError(el, `${el} must be an IP address; got ${JSON.stringify(node.text)}`, node.text);
        st.servers.push(serverEntry(st, { address: node.text }, el));
        break;
      }
      case 'server-hostname': {
        st.warnings.push(`${el} is deprecated: use <server><address>`);
        st.servers.push(serverEntry(st, { address: node.text }, el));
        break;
      }
      case 'port':
        st.warnings.push(`${el} is deprecated: use <server><port>`);
        legacyPort = intValue(node, el, 1, 65535);
        break;
      case 'protocol':
        st.warnings.push(`${el} is deprecated: use <server><protocol>`);
        legacyProtocol = protocolValue(node, el);
        break;
      case 'notify_time':
        st.options.notifyTime = intValue(node, el, 0, MAX_NOTIFY_SECONDS, 'seconds') * 1000;
        break;
      case 'time-reconnect':
        st.options.timeReconnect = intValue(node, el, 0, MAX_SECONDS, 'seconds') * 1000;
        break;
      case 'force_reconnect_interval': {
        // Wazuh only warns about a bad value and keeps reconnects off (protocol.md 6.1).
        let ms: number | undefined;
        try {
          ms = parseWazuhTime(node.text, el);
        } catch (err) {
          st.warnings.push(`${(err as Error).message}: ignored`);
        }
        if (ms !== undefined && ms > MAX_TIMER_DELAY) {
          st.warnings.push(`${el} ${JSON.stringify(node.text)} is longer than ${MAX_SECONDS} seconds: ignored`);
        } else if (ms !== undefined) {
          st.options.forceReconnectInterval = ms;
        }
        break;
      }
      case 'ip_update_interval':
        st.ipUpdateInterval = intValue(node, el, 0, MAX_SECONDS, 'seconds') * 1000;
        st.options.ipUpdateInterval = st.ipUpdateInterval;
        break;
      case 'auto_restart':
        st.autoRestart = yesNo(node, el);
        st.options.autoRestart = st.autoRestart;
        break;
      case 'crypto_method': {
        const m = node.text.toLowerCase();
        if (m !== 'aes' && m !== 'blowfish') {
          throw configError(el, `${el} must be 'aes' or 'blowfish'; got ${JSON.stringify(node.text)}`, node.text);
        }
        st.options.cryptoMethod = m satisfies CryptoMethod;
        break;
      }
      case 'config-profile':
        st.configProfile = node.text;
        st.options.configProfile = node.text;
        break;
      case 'disable-active-response':
        st.disableActiveResponse = yesNo(node, el);
        break;
      case 'local_ip':
        st.warnings.push(`${el} has no effect and is ignored`);
        break;
      case 'enrollment':
        readEnrollment(st, node, `${prefix}/enrollment`);
        break;
      default:
        if (LEGACY_INTERNAL.has(node.name)) {
          st.warnings.push(`${el} is an internal option (internal_options.conf) and is ignored`);
          break;
        }
        throw invalidElement(el, CLIENT_ELEMENTS);
    }
  }

  // The legacy client-level port and protocol apply to this block's servers that set none (client-config.c).
  for (const entry of st.servers.slice(firstOfBlock)) {
    if (entry.server.port === undefined && legacyPort !== undefined) entry.server.port = legacyPort;
    if (entry.server.protocol === undefined && legacyProtocol !== undefined) entry.server.protocol = legacyProtocol;
  }
}

function protocolValue(node: XNode, element: string): 'tcp' | 'udp' {
  const p = node.text.toLowerCase();
  if (p !== 'tcp' && p !== 'udp') throw configError(element, `${element} must be 'tcp' or 'udp'; got ${JSON.stringify(node.text)}`, node.text);
  return p;
}

const SERVER_ELEMENTS = ['address', 'port', 'protocol', 'max_retries', 'retry_interval', 'interface_index'] as const;

function readServer(st: State, node: XNode, path: string): ServerEntry {
  let address: string | undefined;
  let interfaceIndex: number | undefined;
  const server: Partial<ServerOptions> = {};
  for (const child of node.children) {
    const el = `${path}/${child.name}`;
    switch (child.name) {
      case 'address':
        if (child.text.includes('/')) {
          throw configError(el, `${el} must be a host name or IP address without '/'; got ${JSON.stringify(child.text)}`, child.text);
        }
        address = child.text;
        break;
      case 'port':
        server.port = intValue(child, el, 1, 65535);
        break;
      case 'protocol':
        server.protocol = protocolValue(child, el);
        break;
      case 'max_retries':
        server.maxRetries = intValue(child, el, 1, MAX_INT);
        break;
      case 'retry_interval':
        server.retryInterval = intValue(child, el, 1, MAX_SECONDS, 'seconds') * 1000;
        break;
      case 'interface_index':
        interfaceIndex = intValue(child, el, 1, MAX_INT);
        break;
      default:
        throw invalidElement(el, SERVER_ELEMENTS);
    }
  }
  if (address === undefined) {
    throw configError(`${path}/address`, `${path}/address is missing: No such address in the configuration`, undefined);
  }
  if (interfaceIndex !== undefined) {
    if (isIPv6LinkLocal(address) && !address.includes('%')) {
      address = `${address}%${interfaceIndex}`;
    } else {
      st.warnings.push(`${path}/interface_index is only used with an IPv6 link-local address: ignored`);
    }
  }
  return serverEntry(st, { ...server, address }, `${path}/address`);
}

function serverEntry(st: State, server: ServerOptions, element: string): ServerEntry {
  if (isPlaceholderAddress(server.address)) {
    st.warnings.push(`${element} ${JSON.stringify(server.address)} is not a manager address: server skipped`);
    return { server, element, unusable: '4112' };
  }
  if (isIPv6LinkLocal(server.address) && !server.address.includes('%')) {
    st.warnings.push(`${element} ${JSON.stringify(server.address)} is IPv6 link-local and needs <interface_index>: server skipped`);
    return { server, element, unusable: '4114' };
  }
  checkHost(server.address, element);
  return { server, element };
}

const BUFFER_ELEMENTS = ['disabled', 'queue_size', 'events_per_second', 'disable', 'length'] as const;

function readBuffer(st: State, node: XNode, path: string): void {
  const buffer: BufferOptions = { ...st.buffer };
  for (const child of node.children) {
    const el = `${path}/${child.name}`;
    switch (child.name) {
      case 'disable':
        st.warnings.push(`${el} is deprecated: use <disabled>`);
        buffer.disabled = yesNo(child, el);
        break;
      case 'disabled':
        buffer.disabled = yesNo(child, el);
        break;
      case 'length':
        st.warnings.push(`${el} is deprecated: use <queue_size>`);
        buffer.queueSize = intValue(child, el, 1, MAX_QUEUE_SIZE, 'events');
        break;
      case 'queue_size':
        buffer.queueSize = intValue(child, el, 1, MAX_QUEUE_SIZE, 'events');
        break;
      case 'events_per_second':
        buffer.eventsPerSecond = intValue(child, el, 1, MAX_EVENTS_PER_SECOND);
        if (buffer.eventsPerSecond < MIN_EVENTS_PER_SECOND) {
          st.warnings.push(`Client buffer throughput too low: set to ${MIN_EVENTS_PER_SECOND} eps (${el} is ${buffer.eventsPerSecond})`);
        }
        break;
      default:
        throw invalidElement(el, BUFFER_ELEMENTS);
    }
  }
  st.buffer = buffer;
}

const ENROLLMENT_ELEMENTS = [
  'enabled',
  'manager_address',
  'port',
  'agent_name',
  'groups',
  'agent_address',
  'use_source_ip',
  'ssl_cipher',
  'server_ca_path',
  'agent_certificate_path',
  'agent_key_path',
  'authorization_pass_path',
  'auto_method',
  'delay_after_enrollment',
  'interface_index',
] as const;

function readEnrollment(st: State, node: XNode, path: string): void {
  const en: EnrollmentOptions = { ...st.enrollment };
  const files = st.enrollmentSettings;
  let interfaceIndex: { value: number; element: string } | undefined;
  for (const child of node.children) {
    const el = `${path}/${child.name}`;
    switch (child.name) {
      case 'enabled':
        en.enabled = yesNo(child, el);
        break;
      case 'manager_address':
        en.managerAddress = checkHost(child.text, el);
        break;
      case 'port':
        en.port = intValue(child, el, 1, 65535);
        break;
      case 'agent_name':
        if (!isValidAgentName(child.text)) {
          throw configError(
            el,
            `${el} must be 2 to 128 characters of [A-Za-z0-9._-], not starting with '.'; got ${JSON.stringify(child.text)}`,
            child.text,
          );
        }
        en.agentName = child.text;
        break;
      case 'groups': {
        const groups = child.text
          .split(',')
          .map((g) => g.trim())
          .filter((g) => g !== '');
        if (groups.length > MAX_ENROLLMENT_GROUPS) {
          throw configError(el, `${el} lists ${groups.length} groups; at most ${MAX_ENROLLMENT_GROUPS} are allowed`, child.text);
        }
        en.groups = groups.map((g) => checkGroup(g, el));
        break;
      }
      case 'agent_address':
        en.agentAddress = checkAgentAddress(child.text, el);
        st.agentAddressElement = el;
        break;
      case 'use_source_ip':
        st.useSourceIp = { value: yesNo(child, el), element: el };
        break;
      case 'ssl_cipher':
        files.sslCipher = nonEmpty(child, el);
        break;
      case 'server_ca_path':
        files.serverCaPath = nonEmpty(child, el);
        break;
      case 'agent_certificate_path':
        files.agentCertificatePath = nonEmpty(child, el);
        break;
      case 'agent_key_path':
        files.agentKeyPath = nonEmpty(child, el);
        break;
      case 'authorization_pass_path':
        files.authorizationPassPath = nonEmpty(child, el);
        break;
      case 'auto_method':
        files.autoMethod = yesNo(child, el);
        break;
      case 'delay_after_enrollment':
        en.delayAfterEnrollment = intValue(child, el, 1, MAX_SECONDS, 'seconds') * 1000;
        break;
      case 'interface_index':
        interfaceIndex = { value: intValue(child, el, 1, MAX_INT), element: el };
        break;
      default:
        throw invalidElement(el, ENROLLMENT_ELEMENTS);
    }
  }
  if (interfaceIndex) {
    const addr = en.managerAddress;
    if (addr !== undefined && isIPv6LinkLocal(addr) && !addr.includes('%')) en.managerAddress = `${addr}%${interfaceIndex.value}`;
    else st.warnings.push(`${interfaceIndex.element} is only used with an IPv6 link-local <manager_address>: ignored`);
  }
  st.enrollment = en;
}

function readLabels(st: State, node: XNode, path: string): void {
  let index = 0;
  for (const child of node.children) {
    const el = `${path}/${child.name}`;
    if (child.name !== 'label') throw invalidElement(el, ['label']);
    index++;
    const lp = `${path}/label[${index}]`;
    let hidden = false;
    for (const [attr, value] of Object.entries(child.attrs)) {
      if (attr === 'key') continue;
      if (attr !== 'hidden') {
        throw configError(`${lp}/@${attr}`, `${lp}: unknown attribute '${attr}' (allowed: key, hidden)`, attr);
      }
      const v = value.toLowerCase();
      if (v !== 'yes' && v !== 'no') throw configError(`${lp}/@hidden`, `${lp}/@hidden must be 'yes' or 'no'; got ${JSON.stringify(value)}`, value);
      hidden = v === 'yes';
    }
    const key = child.attrs.key;
    if (key === undefined) throw configError(`${lp}/@key`, `${lp}: expected a 'key' attribute`, undefined);
    if (key === '') throw configError(`${lp}/@key`, `${lp}: label with an empty key`, key);
    checkLabel(key, child.text, lp);
    if (child.text === '') st.warnings.push(`${lp}: label '${key}' is empty`);
    const existing = st.labels.findIndex((l) => l.key === key);
    const label: AgentLabel = { key, value: child.text, hidden };
    if (existing >= 0) {
      st.warnings.push(`${lp}: label '${key}' is defined again: the last value is used`);
      st.labels[existing] = label;
    } else {
      st.labels.push(label);
    }
  }
}

// ---------------------------------------------------------------------------------------------

function finish(st: State): OssecConfResult {
  if (st.servers.length === 0) {
    throw configError(
      st.sawClient ? 'client/server' : 'client',
      st.sawClient ? '(4105): No valid server IP found: <client> has no <server>' : '(4105): No valid server IP found: ossec.conf has no <client> section',
      undefined,
    );
  }
  const usable = st.servers.filter((s) => s.unusable === undefined);
  if (usable.length === 0) {
    const placeholder = st.servers.find((s) => s.unusable === '4112');
    if (placeholder) {
      throw configError(
        placeholder.element,
        `(4112): Invalid server address found: ${JSON.stringify(placeholder.server.address)} (${placeholder.element}); set the manager's address`,
        placeholder.server.address,
      );
    }
    const first = st.servers[0]!;
    throw configError(
      first.element,
      `(4114): No valid server IP found: ${JSON.stringify(first.server.address)} is IPv6 link-local and needs <interface_index>`,
      first.server.address,
    );
  }

  if (st.useSourceIp?.value) {
    if (st.enrollment?.agentAddress !== undefined) {
      throw configError(
        st.useSourceIp.element,
        `${st.useSourceIp.element} and ${st.agentAddressElement ?? 'agent_address'} cannot both be set: use one of them`,
        'yes',
      );
    }
    st.enrollment = { ...st.enrollment, agentAddress: 'src' };
  }

  const options: OssecConfOptions = { ...st.options, servers: usable.map((s) => s.server) };
  if (st.buffer) options.buffer = st.buffer;
  if (st.enrollment) options.enrollment = st.enrollment;
  if (st.labels.length > 0) options.labels = st.labels;
  return {
    options,
    warnings: st.warnings,
    configProfile: st.configProfile,
    autoRestart: st.autoRestart,
    ipUpdateInterval: st.ipUpdateInterval,
    disableActiveResponse: st.disableActiveResponse,
    enrollment: st.enrollmentSettings,
  };
}
