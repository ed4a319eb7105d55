/**
 * The message catalogue (protocol.md section 4): builders for every plaintext the agent and the
 * manager exchange, and classifiers for what each side receives. Exact strings: trailing spaces matter.
 *
 * @module
 */
import { ConfigError, DecodeError } from '../errors.js';
import { AGENT_VERSION, parseUname } from './uname.js';
import type { ParsedUname } from './uname.js';

export { AGENT_VERSION } from './uname.js';
/** Prefix of every control message (`IsValidHeader`). */
export const CONTROL_HEADER = '#!-';
/** ACK for a startup or keepalive, manager → agent (trailing space included). */
export const ACK_MESSAGE = '#!-agent ack ';
/** Shutdown notice, agent → manager (trailing space included; compared as a whole string). */
export const SHUTDOWN_MESSAGE = '#!-agent shutdown ';
/** Manager asks the agent to reconnect. */
export const FORCE_RECONNECT_MESSAGE = '#!-force_reconnect';
/** End of a shared-file push (trailing space included). */
export const FILE_CLOSE_MESSAGE = '#!-close file ';
/** Startup prefix before the version JSON (trailing space included); alone, the pre-4.6 startup. */
export const STARTUP_PREFIX = '#!-agent startup ';
/** The unencrypted health-check request (protocol.md 3.11). */
export const PING = '#ping';
/** The unencrypted health-check reply (protocol.md 3.11). */
export const PONG = '#pong';
/** Location of the agent's own events (protocol.md 4.7). */
export const AGENT_LOCATION = 'wazuh-agent';

/** Queue characters of events (`<q>:<location>:<log>`, protocol.md 4.1). */
export const QUEUE = {
  /** Log lines (logcollector) and the agent's own events. */
  LOCALFILE: '1',
  /** Remote syslog (manager-internal). */
  SYSLOG: '2',
  /** Host info. */
  HOSTINFO: '3',
  /** Used internally by remoted; not sent by agents. */
  SECURE: '4',
  /** State synchronisation (`5:syscollector:{json}`, `5:fim_file:{json}` ...). */
  DBSYNC: '5',
  /** File integrity monitoring (`8:syscheck:{json}`). */
  SYSCHECK: '8',
  /** Rootcheck. */
  ROOTCHECK: '9',
  /** Syscollector inventory. */
  SYSCOLLECTOR: 'd',
  /** CIS-CAT results. */
  CISCAT: 'e',
  /** Windows event channel. */
  WIN_EVT: 'f',
  /** Security configuration assessment. */
  SCA: 'p',
  /** Agent upgrade module. */
  UPGRADE: 'u',
} as const;

const CONTROL = Buffer.from(CONTROL_HEADER, 'latin1');
const NL = '\n';

function isControl(msg: Buffer): boolean {
  return msg.length >= 3 && msg[0] === 0x23 && msg[1] === 0x21 && msg[2] === 0x2d;
}

function messageError(message: string): DecodeError {
  return new DecodeError(message, 'ERR_DECODE_MESSAGE');
}

// ---------------------------------------------------------------------------------------------
// Control messages, agent → manager

/**
 * Builds the startup message (protocol.md 4.2).
 *
 * @param version - the agent version; `null` builds the pre-4.6 form `#!-agent startup ` with no JSON.
 * @returns `#!-agent startup {"version":"v4.14.7"}` (compact JSON).
 */
export function buildStartup(version: string | null = AGENT_VERSION): string {
  return version === null ? STARTUP_PREFIX : STARTUP_PREFIX + JSON.stringify({ version });
}

/** A label reported in the keepalive (`<labels>`). */
export interface KeepaliveLabel {
  /** Label key. */
  key: string;
  /** Label value. */
  value: string;
  /** Hidden label, written `!"key":value`. */
  hidden?: boolean;
  /** System label, written `#"key":value`. */
  system?: boolean;
}

/** What a keepalive reports (protocol.md 4.3). */
export interface KeepaliveInfo {
  /** The full uname line, including the ` - Wazuh vX` suffix (see {@link formatUname}). */
  uname: string;
  /** MD5 of the shared `agent.conf`, sent as ` / <md5>` when set. */
  agentConfigSum?: string | undefined;
  /** Labels, one line each. */
  labels?: KeepaliveLabel[];
  /**
   * MD5 of `merged.mg`, or `x` when the agent has none.
   * @default 'x'
   */
  mergedSum?: string | undefined;
  /** The agent's local address on the manager connection; the line is omitted (keeping its `\n`) when unset. */
  agentIp?: string | undefined;
}

/**
 * Builds a keepalive (notify) message (protocol.md 4.3).
 *
 * @param info - uname line, agent.conf sum, labels, merged.mg sum and agent IP.
 * @returns `#!-<uname>[ / <md5>]\n<labels>\n…<sum> merged.mg\n[#"_agent_ip":<ip>]\n`.
 */
export function buildKeepalive(info: KeepaliveInfo): string {
  let out = CONTROL_HEADER + info.uname;
  if (info.agentConfigSum) out += ` / ${info.agentConfigSum}`;
  out += NL;
  for (const l of info.labels ?? []) {
    out += `${l.hidden ? '!' : l.system ? '#' : ''}"${l.key}":${l.value}${NL}`;
  }
  out += `${info.mergedSum ?? 'x'} merged.mg${NL}`;
  if (info.agentIp) out += `#"_agent_ip":${info.agentIp}`;
  return out + NL;
}

/** A keepalive as the manager parses it (protocol.md 4.3). */
export interface ParsedKeepalive extends KeepaliveInfo {
  /** The uname line with its ` - Wazuh vX` suffix (empty when the message has none). */
  uname: string;
  /** The ` / <md5>` agent.conf sum, when present. */
  agentConfigSum: string | undefined;
  /** Labels, in order (the `_agent_ip` line excluded). */
  labels: KeepaliveLabel[];
  /** The merged.mg sum (`x` for none), when a `<sum> merged.mg` line is present. */
  mergedSum: string | undefined;
  /** The `#"_agent_ip":` value, when present. */
  agentIp: string | undefined;
  /** The agent version from the uname suffix, e.g. `v4.14.7`. */
  version: string | undefined;
  /** OS fields from the uname line, when there is one. */
  os: ParsedUname | undefined;
}

const AGENT_IP_LABEL = '#"_agent_ip":';

/** A uname line seen before, and its parse. */
interface UnameEntry {
  readonly line: string;
  readonly parsed: ParsedUname;
}

/** Parsed uname lines by line: the agents of a fleet run from one host send the same few. */
const unameCache = new Map<string, UnameEntry>();
/** Most lines kept; past that the cache starts again. */
const MAX_UNAME_LINES = 256;

/**
 * A uname line through a cache of the lines seen: its first copy (so that an agent's parsed
 * keepalive holds no part of its own message text) and its {@link parseUname} result, which the
 * caller copies (parseUname returns a new object each call).
 */
function unameEntry(line: string): UnameEntry {
  let entry = unameCache.get(line);
  if (entry === undefined) {
    entry = { line, parsed: parseUname(line) };
    if (unameCache.size >= MAX_UNAME_LINES) unameCache.clear();
    unameCache.set(line, entry);
  }
  return entry;
}

/**
 * Parses a keepalive as remoted does: at least one `\n` is required, everything after the last `\n`
 * is discarded, then each line is a label (`#`, `!` or `"` first), the uname line (contains ` - `),
 * or `<sum> merged.mg`. Other lines are ignored, as the manager ignores them.
 *
 * @param msg - the plaintext, with or without the `#!-` prefix.
 * @returns the reported fields.
 * @throws {@link DecodeError} `ERR_DECODE_MESSAGE` when there is no `\n` (the manager rejects it, no ACK).
 */
export function parseKeepalive(msg: string): ParsedKeepalive {
  const text = msg.startsWith(CONTROL_HEADER) ? msg.slice(3) : msg;
  const last = text.lastIndexOf(NL);
  if (last < 0) throw messageError('Keepalive has no newline (the manager answers "Invalid message from agent")');
  const out: ParsedKeepalive = {
    uname: '',
    agentConfigSum: undefined,
    labels: [],
    mergedSum: undefined,
    agentIp: undefined,
    version: undefined,
    os: undefined,
  };
  for (const line of text.slice(0, last).split(NL)) {
    const c = line[0];
    if (c === '#' || c === '!' || c === '"') {
      if (line.startsWith(AGENT_IP_LABEL)) {
        out.agentIp = line.slice(AGENT_IP_LABEL.length);
        continue;
      }
      const q = c === '"' ? 0 : 1;
      if (line[q] !== '"') continue;
      const end = line.indexOf('":', q + 1);
      if (end < 0) continue;
      const label: KeepaliveLabel = { key: line.slice(q + 1, end), value: line.slice(end + 2) };
      if (c === '!') label.hidden = true;
      if (c === '#') label.system = true;
      out.labels.push(label);
    } else if (line.endsWith(' merged.mg')) {
      out.mergedSum = line.slice(0, -' merged.mg'.length);
    } else if (line.includes(' - ') && out.os === undefined) {
      let uname = line;
      const dash = line.lastIndexOf(' - ');
      const slash = line.indexOf(' / ', dash);
      if (slash >= 0) {
        out.agentConfigSum = line.slice(slash + 3);
        uname = line.slice(0, slash);
      }
      const entry = unameEntry(uname);
      out.uname = entry.line;
      out.os = { ...entry.parsed };
      out.version = out.os.agentVersion;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Events

/**
 * Escapes an event location as the agent's modules do (`wstr_escape`): `|` → `||`, `:` → `|:`.
 *
 * @param location - raw location (file path, `syscheck`, ...).
 * @returns the escaped location.
 */
export function escapeLocation(location: string): string {
  if (!location.includes('|') && !location.includes(':')) return location;
  return location.replace(/[|:]/g, (ch) => `|${ch}`);
}

/**
 * Reverses {@link escapeLocation}: `||` → `|`, `|:` → `:`; any other `|` is kept.
 *
 * @param location - escaped location.
 * @returns the raw location.
 */
export function unescapeLocation(location: string): string {
  if (!location.includes('|')) return location;
  return location.replace(/\|([|:])/g, '$1');
}

/** Input of {@link buildEvent}. */
export interface EventInput<M extends string | Buffer = string | Buffer> {
  /** Queue character, one of {@link QUEUE}. */
  queue: string;
  /** Raw (unescaped) location. */
  location: string;
  /** The log line or JSON. */
  message: M;
}

/**
 * Builds an event `<q>:<escaped location>:<message>` (protocol.md 4.1).
 *
 * @param e - queue character, raw location and message.
 * @returns a string for a string message, a Buffer for a Buffer message.
 * @throws {@link ConfigError} `ERR_CONFIG` when `queue` is not a single character.
 */
export function buildEvent(e: EventInput<string>): string;
export function buildEvent(e: EventInput<Buffer>): Buffer;
export function buildEvent(e: EventInput): string | Buffer;
export function buildEvent(e: EventInput): string | Buffer {
  if (e.queue.length !== 1 || Buffer.byteLength(e.queue) !== 1) {
    throw new ConfigError(`Event queue must be a single ASCII character, got '${e.queue}'`, { element: 'queue', value: e.queue });
  }
  const head = `${e.queue}:${escapeLocation(e.location)}:`;
  if (typeof e.message === 'string') return head + e.message;
  const h = Buffer.from(head, 'utf8');
  return Buffer.concat([h, e.message], h.length + e.message.length);
}

/** A parsed event. */
export interface ParsedEvent<M extends string | Buffer = string | Buffer> {
  /** Queue character. */
  queue: string;
  /** Unescaped location. */
  location: string;
  /** The message after the location. */
  message: M;
}

/** Each byte as a latin1 string: an event's queue character without a toString() call. */
const LATIN1_CHARS: readonly string[] = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));

/**
 * Splits an event into queue, location and message. The location ends at the first `:` that is
 * not escaped (`|:` and `||` are escapes).
 *
 * @param msg - the plaintext event.
 * @returns string fields, and a message of the same type as `msg`.
 * @throws {@link DecodeError} `ERR_DECODE_MESSAGE` when byte 1 is not `:` or the location has no end.
 */
export function parseEvent(msg: string): ParsedEvent<string>;
export function parseEvent(msg: Buffer): ParsedEvent<Buffer>;
export function parseEvent(msg: string | Buffer): ParsedEvent;
export function parseEvent(msg: string | Buffer): ParsedEvent {
  const buf = typeof msg === 'string' ? Buffer.from(msg, 'utf8') : msg;
  if (buf.length < 3 || buf[1] !== 0x3a) {
    throw messageError("Event does not start with '<queue>:' (byte 1 must be ':')");
  }
  let i = 2;
  const n = buf.length;
  while (i < n) {
    const c = buf[i];
    if (c === 0x7c /* | */ && (buf[i + 1] === 0x3a || buf[i + 1] === 0x7c)) {
      i += 2;
      continue;
    }
    if (c === 0x3a) break;
    i++;
  }
  if (i >= n) throw messageError("Event location is not followed by ':'");
  const queue = LATIN1_CHARS[buf[0]!]!;
  const location = unescapeLocation(buf.toString('utf8', 2, i));
  if (typeof msg === 'string') return { queue, location, message: buf.toString('utf8', i + 1) };
  return { queue, location, message: buf.subarray(i + 1) };
}

/**
 * The event an agent sends after its first successful handshake (protocol.md 4.7).
 *
 * @param name - agent name.
 * @param ip - the key's `ip` field.
 * @returns `1:wazuh-agent:ossec: Agent started: '<name>-><ip>'.`
 */
export function agentStartedEvent(name: string, ip: string): string {
  return `1:${AGENT_LOCATION}:ossec: Agent started: '${name}->${ip}'.`;
}

/**
 * The event remoted generates when an agent shuts down (protocol.md 4.7).
 *
 * @param name - agent name.
 * @param ip - the key's `ip` field.
 * @returns `1:wazuh-remoted:ossec: Agent stopped: '<name>-><ip>'.`
 */
export function agentStoppedEvent(name: string, ip: string): string {
  return `1:wazuh-remoted:ossec: Agent stopped: '${name}->${ip}'.`;
}

/** Client buffer states reported as events. */
export type BufferState = 'warning' | 'full' | 'flooded' | 'normal';

/**
 * The event an agent sends when its client buffer changes state (protocol.md 4.7).
 *
 * @param level - the new state.
 * @param warnLevel - the warning threshold in percent, reported for `warning`. @default 90
 * @returns e.g. `1:wazuh-agent:wazuh: Agent buffer: '90%'.` or `… 'full'.`
 */
export function bufferStateEvent(level: BufferState, warnLevel = 90): string {
  const what = level === 'warning' ? `${warnLevel}%` : level;
  return `1:${AGENT_LOCATION}:wazuh: Agent buffer: '${what}'.`;
}

/** The event an agent sends when it cannot unpack merged.mg. */
export const UNMERGE_FAILED_EVENT = '1:wazuh-agent:wazuh: Could not unmerge shared file.';

/**
 * The event an agent sends when a new shared configuration fails its check (trailing space included).
 *
 * @param section - the failing section (`localfile`, `syscheck`, ...).
 * @returns `1:wazuh-agent:wazuh: Invalid remote configuration: '<section>'. `
 */
export function invalidRemoteConfigEvent(section: string): string {
  return `1:${AGENT_LOCATION}:wazuh: Invalid remote configuration: '${section}'. `;
}

/**
 * Formats an event as remoted forwards it to analysisd: `<q>:[<id>] (<name>) <ip>-><location>:<log>`.
 *
 * @param agent - the sender's id, name and key `ip` field.
 * @param event - the event plaintext as received (location still escaped).
 * @returns the forwarded line.
 * @throws {@link DecodeError} `ERR_DECODE_MESSAGE` when byte 1 of the event is not `:`.
 */
export function formatAnalysisdEvent(agent: { id: string; name: string; ip: string }, event: string): string {
  if (event.length < 2 || event[1] !== ':') throw messageError("Event does not start with '<queue>:'");
  return `${event[0]}:[${agent.id}] (${agent.name}) ${agent.ip}->${event.slice(2)}`;
}

// ---------------------------------------------------------------------------------------------
// Requests, errors, active response, shared files

/**
 * A request from the manager: `#!-req <counter> <target> <command>` (protocol.md 4.5).
 *
 * @param counter - request id, lowercase hex.
 * @param target - `agent`, `logcollector`, `com`, ...
 * @param command - e.g. `getconfig client`.
 * @returns the control message.
 */
export function buildRequest(counter: string, target: string, command: string): string {
  return `#!-req ${counter} ${target} ${command}`;
}

/**
 * An agent's answer to a request: `#!-req <counter> <response>`.
 *
 * @param counter - the request's counter.
 * @param response - `ok …`, `err …`, or the getstate JSON.
 * @returns the control message.
 */
export function buildRequestReply(counter: string, response: string): string {
  return `#!-req ${counter} ${response}`;
}

/**
 * A UDP request acknowledgement: `#!-req <counter> ack`.
 *
 * @param counter - the request's counter.
 * @returns the control message.
 */
export function buildRequestAck(counter: string): string {
  return `#!-req ${counter} ack`;
}

/**
 * A manager error reply to a startup: `#!-err {"message":"…"}`.
 *
 * @param message - e.g. `Agent version must be lower or equal to manager version`.
 * @returns the control message.
 */
export function buildErr(message: string): string {
  return `#!-err ${JSON.stringify({ message })}`;
}

/**
 * An active-response command: `#!-execd <payload>`.
 *
 * @param payload - the AR JSON (and any suffix), as a string or an object to serialise compactly.
 * @returns the control message.
 */
export function buildExecd(payload: string | object): string {
  return `#!-execd ${typeof payload === 'string' ? payload : JSON.stringify(payload)}`;
}

/**
 * Start of a shared-file push: `#!-up file <md5> <name>\n`.
 *
 * @param md5 - md5hex of the whole file.
 * @param name - file name, normally `merged.mg`.
 * @returns the control message.
 */
export function buildFileOpen(md5: string, name: string): string {
  return `#!-up file ${md5} ${name}\n`;
}

// ---------------------------------------------------------------------------------------------
// Classifiers

/** Local modules that receive manager commands verbatim (protocol.md 4.4). */
export type ModuleName = 'syscheck' | 'fim_file' | 'fim_registry' | 'fim_registry_key' | 'fim_registry_value' | 'syscollector' | 'sca';

/** A decrypted manager → agent message, classified as the agent does (protocol.md 4.4). */
export type ManagerMessage =
  | { type: 'ack' }
  | { type: 'err'; message: string; raw: string }
  | { type: 'execd'; payload: string }
  | { type: 'force_reconnect' }
  | { type: 'request'; counter: string; target: string; command: string }
  | { type: 'request_ack'; counter: string }
  | { type: 'file_open'; md5: string; name: string }
  | { type: 'file_close' }
  | { type: 'module'; module: ModuleName; payload: string }
  | { type: 'control'; text: string }
  | { type: 'data'; data: Buffer };

const MODULE_PREFIXES: readonly (readonly [string, ModuleName])[] = [
  ['syscheck ', 'syscheck'],
  ['fim_file ', 'fim_file'],
  ['fim_registry ', 'fim_registry'],
  ['fim_registry_key ', 'fim_registry_key'],
  ['fim_registry_value ', 'fim_registry_value'],
  ['syscollector_', 'syscollector'],
  ['sca-dump', 'sca'],
];

/**
 * Classifies a decrypted manager → agent message in the agent's order (protocol.md 4.4). Prefixes
 * are compared like the C agent's `strncmp`: `#!-agent ack ` followed by anything is an ACK.
 *
 * @param msg - the plaintext.
 * @returns the classified message; a non-control message is `data` (a shared-file chunk).
 * @throws {@link DecodeError} `ERR_DECODE_MESSAGE` for a malformed `#!-req` or `#!-up file`.
 */
export function parseManagerMessage(msg: Buffer): ManagerMessage {
  if (!isControl(msg)) return { type: 'data', data: msg };
  const text = msg.toString('utf8', 3);
  if (text.startsWith('agent ack ')) return { type: 'ack' };
  if (text.startsWith('err ')) {
    const raw = text.slice(4);
    let message = raw;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') {
        message = (parsed as { message: string }).message;
      }
    } catch {
      // not JSON: keep the raw text as the message
    }
    return { type: 'err', message, raw };
  }
  if (text.startsWith('execd ')) return { type: 'execd', payload: text.slice(6) };
  if (text.startsWith('force_reconnect')) return { type: 'force_reconnect' };
  for (const [prefix, module] of MODULE_PREFIXES) {
    if (text.startsWith(prefix)) return { type: 'module', module, payload: text };
  }
  if (text.startsWith('req ')) {
    const r = splitRequest(text);
    if (r.rest === 'ack') return { type: 'request_ack', counter: r.counter };
    const sp = r.rest.indexOf(' ');
    const target = sp < 0 ? r.rest : r.rest.slice(0, sp);
    if (target.length === 0) throw messageError('Request has no target');
    return { type: 'request', counter: r.counter, target, command: sp < 0 ? '' : r.rest.slice(sp + 1) };
  }
  if (text.startsWith('up file ')) {
    const rest = text.slice(8);
    const sp = rest.indexOf(' ');
    if (sp <= 0) throw messageError("'up file' message has no '<md5> <name>'");
    const nl = rest.indexOf('\n', sp + 1);
    const name = nl < 0 ? rest.slice(sp + 1) : rest.slice(sp + 1, nl);
    if (name.length === 0) throw messageError("'up file' message has an empty file name");
    return { type: 'file_open', md5: rest.slice(0, sp), name };
  }
  if (text.startsWith('close file')) return { type: 'file_close' };
  return { type: 'control', text: CONTROL_HEADER + text };
}

function splitRequest(text: string): { counter: string; rest: string } {
  const body = text.slice(4);
  const sp = body.indexOf(' ');
  if (sp <= 0) throw messageError("Request message is not '#!-req <counter> <payload>'");
  return { counter: body.slice(0, sp), rest: body.slice(sp + 1) };
}

/** A decrypted agent → manager message, classified as remoted does (protocol.md 8.4). */
export type AgentMessage =
  | { type: 'startup'; version: string | undefined; versionError?: 'missing' }
  | { type: 'shutdown' }
  | { type: 'keepalive'; info: ParsedKeepalive }
  | { type: 'request_reply'; counter: string; response: string }
  | { type: 'request_ack'; counter: string }
  | { type: 'invalid_control'; text: string }
  | { type: 'event'; queue: string; location: string; message: Buffer };

/**
 * Classifies a decrypted agent → manager message in remoted's order (protocol.md 8.4): request,
 * startup, shutdown (exact string), keepalive (any other control message with a `\n`), invalid
 * control message, event.
 *
 * A startup whose text after `#!-agent startup ` is empty or not JSON is a pre-4.6 startup
 * (`version` undefined); JSON without a string `version` gives `versionError: 'missing'` (the
 * manager answers `Couldn't retrieve version`).
 *
 * @param msg - the plaintext.
 * @returns the classified message.
 * @throws {@link DecodeError} `ERR_DECODE_MESSAGE` for a malformed `#!-req` or event.
 */
export function parseAgentMessage(msg: Buffer): AgentMessage {
  if (!isControl(msg)) {
    const e = parseEvent(msg);
    return { type: 'event', queue: e.queue, location: e.location, message: e.message };
  }
  const text = msg.toString('utf8', 3);
  if (text.startsWith('req ')) {
    const r = splitRequest(text);
    if (r.rest === 'ack') return { type: 'request_ack', counter: r.counter };
    return { type: 'request_reply', counter: r.counter, response: r.rest };
  }
  if (text.startsWith('agent startup ')) {
    const json = text.slice(14);
    if (json.trim().length === 0) return { type: 'startup', version: undefined };
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      return { type: 'startup', version: undefined };
    }
    const v = parsed !== null && typeof parsed === 'object' ? (parsed as { version?: unknown }).version : undefined;
    return typeof v === 'string' ? { type: 'startup', version: v } : { type: 'startup', version: undefined, versionError: 'missing' };
  }
  if (text === 'agent shutdown ') return { type: 'shutdown' };
  if (text.includes('\n')) return { type: 'keepalive', info: parseKeepalive(text) };
  return { type: 'invalid_control', text: CONTROL_HEADER + text };
}

/** `#!-` as bytes, for callers that test prefixes on Buffers. */
export const CONTROL_HEADER_BYTES: Readonly<Buffer> = CONTROL;
