/**
 * The enrollment (wazuh-authd, port 1515) wire codec (protocol.md section 7): the request line the
 * agent sends, how authd parses it (`w_auth_parse_data` and the group checks of
 * `w_auth_validate_groups`), and the success and error replies. Pure: no sockets, no timers.
 *
 * @module
 */
import { ConfigError, EnrollmentError } from '../errors.js';
import { isValidAgentId, isValidAgentName, isValidKeyIp } from './keys.js';
import type { AgentKey } from './types.js';

/** The version an agentlink agent announces in `V:` and a mock authd reports as its own. */
export const ENROLLMENT_DEFAULT_VERSION = 'v4.14.7';
/** Most groups one enrollment request may name (`MAX_GROUPS_PER_MULTIGROUP`; the same value as the config layer's `MAX_ENROLLMENT_GROUPS`). */
const MAX_GROUPS = 128;
/** Longest group name, in characters (`MAX_GROUP_NAME`). */
export const MAX_GROUP_NAME_LENGTH = 255;
/** Size of authd's request buffer in bytes; a longer request without `\n` is dropped. */
export const MAX_ENROLLMENT_REQUEST_SIZE = 69632;
/** The suffix authd v4.13+ appends to every error reply. */
export const ENROLLMENT_ERROR_SUFFIX = '. Unable to add agent';

/** Widths of the `sscanf` conversions authd uses for each field. */
const VERSION_WIDTH = 2048; // OS_BUFFER_SIZE
const GROUPS_WIDTH = 65536; // OS_SIZE_65536
const IP_WIDTH = 46; // IPSIZE (INET6_ADDRSTRLEN)
const KEY_HASH_WIDTH = 40; // sizeof(os_sha1) - 1

const GROUP_RE = /^[A-Za-z0-9_.-]+$/;
const KEY_HASH_RE = /^[0-9a-f]{40}$/;
const VERSION_RE = /^[A-Za-z0-9._+-]{1,64}$/;
/** Characters `w_validate_group_name` accepts in a group list (a single group: without `,`). */
const GROUP_LIST_CHARS = /^[A-Za-z0-9.:;_\-=+!@(),]*$/;

/** What an agent puts in its enrollment request (protocol.md 7.2). */
export interface EnrollmentRequestFields {
  /** Agent name: 2 to 128 characters of `[A-Za-z0-9._-]`, not starting with `.`. */
  name: string;
  /**
   * Agent version sent as `V:'…'`.
   * @default 'v4.14.7'
   */
  version?: string;
  /** Enrollment password (`OSSEC PASS: <password> `), longer than 2 characters. A secret. */
  password?: string;
  /** Groups, sent as `G:'a,b'`: each `[A-Za-z0-9_.-]+`, not `.` or `..`, at most 128. Empty: no field. */
  groups?: readonly string[];
  /** `IP:'…'`: an IPv4/IPv6 address or CIDR, or `src` (the manager records the connection's source address). */
  agentAddress?: string;
  /** `K:'…'`: `sha1hex(id ‖ name ‖ key)` of the key the agent already has (40 lowercase hex characters). */
  keyHash?: string;
}

/**
 * Builds the enrollment request line, ending in exactly one `\n` (protocol.md 7.2).
 *
 * Every field is checked first, so nothing that could break out of its quotes (a `'`, a space, a
 * newline, a control character) is ever sent.
 *
 * @param fields - name, version, password, groups, agent address and key hash.
 * @returns the request line, e.g. `OSSEC A:'agent1' V:'v4.14.7'\n`.
 * @throws {@link ConfigError} `ERR_CONFIG` naming the field that is not valid (a bad password is
 *   reported without its value).
 * @example
 * ```ts
 * buildEnrollmentRequest({ name: 'agent1', password: 'topsecret', groups: ['default', 'linux'] });
 * // "OSSEC PASS: topsecret OSSEC A:'agent1' V:'v4.14.7' G:'default,linux'\n"
 * ```
 */
export function buildEnrollmentRequest(fields: EnrollmentRequestFields): string {
  const { name, version = ENROLLMENT_DEFAULT_VERSION, password, groups, agentAddress, keyHash } = fields;
  if (typeof name !== 'string' || !isValidAgentName(name)) {
    throw new ConfigError(
      `invalid enrollment agent name '${printable(name)}': expected 2 to 128 characters of [A-Za-z0-9._-], not starting with '.'`,
      { element: 'enrollment.agentName', value: name },
    );
  }
  if (typeof version !== 'string' || !VERSION_RE.test(version)) {
    throw new ConfigError(`invalid enrollment version '${printable(version)}': expected 1 to 64 characters of [A-Za-z0-9._+-]`, {
      element: 'enrollment.version',
      value: version,
    });
  }
  let line = '';
  if (password !== undefined) {
    if (typeof password !== 'string' || password.length <= 2 || /[\n\r\0]/.test(password)) {
      throw new ConfigError('invalid enrollment password: it must be longer than 2 characters and hold no newline or NUL', {
        element: 'enrollment.password',
        value: '[redacted]',
      });
    }
    line += `OSSEC PASS: ${password} `;
  }
  line += `OSSEC A:'${name}' V:'${version}'`;
  if (groups !== undefined && groups.length > 0) {
    if (groups.length > MAX_GROUPS) {
      throw new ConfigError(`too many enrollment groups (${groups.length}): at most ${MAX_GROUPS}`, {
        element: 'enrollment.groups',
        value: groups.length,
      });
    }
    for (const g of groups) {
      if (typeof g !== 'string' || !GROUP_RE.test(g) || g === '.' || g === '..' || g.length > MAX_GROUP_NAME_LENGTH) {
        throw new ConfigError(
          `invalid enrollment group '${printable(g)}': expected 1 to ${MAX_GROUP_NAME_LENGTH} characters of [A-Za-z0-9_.-], not '.' or '..'`,
          { element: 'enrollment.groups', value: g },
        );
      }
    }
    line += ` G:'${groups.join(',')}'`;
  }
  if (agentAddress !== undefined) {
    if (typeof agentAddress !== 'string' || (agentAddress !== 'src' && !isValidKeyIp(agentAddress))) {
      throw new ConfigError(`invalid enrollment agent address '${printable(agentAddress)}': expected an IP address, a CIDR or 'src'`, {
        element: 'enrollment.agentAddress',
        value: agentAddress,
      });
    }
    line += ` IP:'${agentAddress}'`;
  }
  if (keyHash !== undefined) {
    if (typeof keyHash !== 'string' || !KEY_HASH_RE.test(keyHash)) {
      throw new ConfigError(`invalid enrollment key hash '${printable(keyHash)}': expected 40 lowercase hex characters`, {
        element: 'enrollment.keyHash',
        value: keyHash,
      });
    }
    line += ` K:'${keyHash}'`;
  }
  return `${line}\n`;
}

/** How authd is configured, for {@link parseEnrollmentRequest}. */
export interface ParseEnrollmentRequestOptions {
  /** authd's password (`<use_password>yes`); omit when authd uses no password. A secret. */
  password?: string | undefined;
  /**
   * The manager's version; agents with a higher major.minor are refused.
   * @default 'v4.14.7'
   */
  managerVersion?: string | undefined;
  /**
   * Accept agents newer than the manager (`<agents><allow_higher_versions>`).
   * @default false
   */
  allowHigherVersions?: boolean | undefined;
  /**
   * Record the source address when the request has no `IP:` field (`<use_source_ip>`).
   * @default false
   */
  useSourceIp?: boolean | undefined;
  /** The connection's source address: recorded for `IP:'src'` and with `useSourceIp`. */
  sourceIp?: string | undefined;
  /**
   * The groups that exist on the manager. When given, the group list is also checked the way
   * `w_auth_validate_groups` does (limit of 128, name pattern, `.`/`..`, existence). When omitted,
   * those checks still run but every group is taken to exist.
   */
  existingGroups?: Iterable<string> | undefined;
}

/** A request authd accepts (before the duplicate checks of protocol.md 7.5). */
export interface ParsedEnrollmentRequest {
  /** Accepted. */
  ok: true;
  /** Agent name. */
  name: string;
  /** The `V:` version, when sent. */
  version: string | undefined;
  /** Groups without duplicates, in request order (`wstr_delete_repeated_groups`); `undefined` without `G:`. */
  groups: string[] | undefined;
  /** The raw `IP:` value (`src` or an address), when sent. */
  requestedIp: string | undefined;
  /**
   * The IP to record in the key: the requested address, the source address (for `src`, or no `IP:`
   * with `useSourceIp`), or `any`. Stays `src` when the source address is needed but `sourceIp` was
   * not given.
   */
  ip: string;
  /** The `K:` key hash, when sent. */
  keyHash: string | undefined;
}

/** A request authd refuses, with its exact reason. */
export interface EnrollmentRequestError {
  /** Refused. */
  ok: false;
  /** authd's reason without the `ERROR: ` prefix (e.g. `Invalid password`), as {@link formatEnrollmentError} takes it. */
  reason: string;
}

/**
 * Parses an enrollment request line exactly as authd's `w_auth_parse_data` does (protocol.md 7.2),
 * then checks the groups as `w_auth_validate_groups` does. The duplicate name and IP rules of 7.5
 * are the server's job, not this function's.
 *
 * Fields are read at a cursor in the fixed order password, `A:`, `V:`, `G:`, `IP:`, `K:`; a field out
 * of order is ignored, as are trailing bytes. Pass the line without its `\n` (a trailing `\n` or
 * `\r\n` is tolerated and removed).
 *
 * @param line - the request line.
 * @param options - authd's password, version and source-IP settings, the source address and the
 *   existing groups.
 * @returns the parsed request, or the refusal with authd's exact reason text.
 */
export function parseEnrollmentRequest(
  line: string,
  options: ParseEnrollmentRequestOptions = {},
): ParsedEnrollmentRequest | EnrollmentRequestError {
  let buf = line.endsWith('\r\n') ? line.slice(0, -2) : line.endsWith('\n') ? line.slice(0, -1) : line;
  // The C parser works on a NUL-terminated string.
  const nul = buf.indexOf('\0');
  if (nul >= 0) buf = buf.slice(0, nul);
  let pos = 0;

  const { password } = options;
  if (password !== undefined) {
    let ok = false;
    if (buf.startsWith('OSSEC PASS: ')) {
      pos = 12;
      if (buf.length - pos > password.length && buf.startsWith(password, pos)) {
        pos += password.length;
        if (buf[pos] === ' ') {
          pos++;
          ok = true;
        }
      }
    }
    if (!ok) return fail('Invalid password');
  }

  if (!buf.startsWith("OSSEC A:'", pos)) return fail('Invalid request for new agent');
  pos += 9;
  const nameEnd = buf.indexOf("'", pos);
  if (nameEnd < 0) return fail('Invalid request for new agent');
  const name = buf.slice(pos, nameEnd);
  pos = nameEnd + 1;
  if (!isValidAgentName(name)) return fail(`Invalid agent name: ${name}`);

  let version: string | undefined;
  if (buf.startsWith(' V:', pos)) {
    version = scanField(buf, pos, 4, VERSION_WIDTH, false);
    if (buf[pos + version.length + 4] !== "'") return fail('Unterminated version field');
    const managerVersion = options.managerVersion ?? ENROLLMENT_DEFAULT_VERSION;
    if (options.allowHigherVersions !== true && compareWazuhVersions(managerVersion, version) < 0) {
      return fail('Agent version must be lower or equal to manager version');
    }
    pos += version.length + 5;
  }

  let groups: string[] | undefined;
  if (buf.startsWith(' G:', pos)) {
    const list = scanField(buf, pos, 4, GROUPS_WIDTH, false);
    if (buf[pos + list.length + 4] !== "'") return fail('Unterminated group field');
    const invalid = validateGroupList(list);
    if (invalid !== undefined) return fail(invalid);
    groups = [...new Set(list.split(',').filter((g) => g.length > 0))];
    pos += list.length + 5;
  }

  let requestedIp: string | undefined;
  let ip: string;
  const source = options.sourceIp ?? 'src';
  if (buf.startsWith(' IP:', pos)) {
    requestedIp = scanField(buf, pos, 5, IP_WIDTH, true);
    if (buf[pos + requestedIp.length + 5] !== "'") return fail('Unterminated IP field');
    if (requestedIp.startsWith('src')) {
      ip = source;
    } else {
      if (!isValidKeyIp(requestedIp)) return fail(`Invalid IP: ${requestedIp}`);
      ip = requestedIp;
    }
    pos += requestedIp.length + 6;
  } else {
    ip = options.useSourceIp === true ? source : 'any';
  }

  let keyHash: string | undefined;
  if (buf.startsWith(' K:', pos)) {
    keyHash = scanField(buf, pos, 4, KEY_HASH_WIDTH, false);
    if (buf[pos + keyHash.length + 4] !== "'") return fail('Unterminated key field');
  }

  if (groups !== undefined) {
    const refused = validateEnrollmentGroups(groups, options.existingGroups);
    if (refused !== undefined) return fail(refused);
  }

  return { ok: true, name, version, groups, requestedIp, ip, keyHash };
}

/**
 * Checks a deduplicated group list as authd's `w_auth_validate_groups` does, group by group: the
 * 129th group exceeds the limit, a name outside `[A-Za-z0-9_.-]+` or equal to `.`/`..` is refused,
 * and a group that does not exist is refused.
 *
 * @param groups - the groups, in request order.
 * @param existing - the groups that exist; omitted: every group exists.
 * @returns `undefined` when valid, else authd's reason without `ERROR: `.
 */
export function validateEnrollmentGroups(groups: readonly string[], existing?: Iterable<string>): string | undefined {
  const known = existing === undefined ? undefined : existing instanceof Set ? (existing as Set<string>) : new Set(existing);
  let count = 0;
  for (const group of groups) {
    count++;
    if (count > MAX_GROUPS) return `Maximum multigroup reached: Limit is ${MAX_GROUPS}`;
    if (!GROUP_RE.test(group) || group === '.' || group === '..') return `Invalid group name: ${group}`;
    if (known !== undefined && !known.has(group)) return `Invalid group: ${group}`;
  }
  return undefined;
}

/**
 * Formats authd's success reply (protocol.md 7.3): `OSSEC K:'<id> <name> <ip> <key>'`, with no newline.
 *
 * @param key - the new agent's entry. Contains a secret: do not log the result.
 * @returns the reply text.
 */
export function formatEnrollmentSuccess(key: AgentKey): string {
  return `OSSEC K:'${key.id} ${key.name} ${key.ip} ${key.key}'`;
}

/**
 * Formats authd's error reply in the v4.13+ form (protocol.md 7.4): `ERROR: <reason>. Unable to add agent`.
 *
 * @param reason - the reason without `ERROR: ` (e.g. `Duplicate agent name: agent1`).
 * @returns the reply text.
 */
export function formatEnrollmentError(reason: string): string {
  return `ERROR: ${reason}${ENROLLMENT_ERROR_SUFFIX}`;
}

/** authd's reply, decoded. */
export type EnrollmentResponse = { ok: true; key: AgentKey } | { ok: false; reason: string };

/**
 * Decodes authd's reply (protocol.md 7.3 and 7.4): `OSSEC K:'<id> <name> <ip> <key>'`, or an error in
 * the v4.13+ form (`ERROR: <reason>. Unable to add agent`) or the v4.0–4.12 form (`ERROR: <reason>`
 * followed by `ERROR: Unable to add agent`).
 *
 * @param text - everything authd sent.
 * @returns the new key, or the refusal reason without the `ERROR: ` prefix and the
 *   `. Unable to add agent` suffix.
 * @throws {@link EnrollmentError} `ERR_ENROLLMENT_RESPONSE` when the reply is neither, or the key
 *   entry does not have a valid id, name, IP and key. The key is never quoted in the message.
 */
export function parseEnrollmentResponse(text: string): EnrollmentResponse {
  if (text.startsWith("OSSEC K:'")) {
    const end = text.indexOf("'", 9);
    if (end < 0) throw responseError("authd's key reply has no closing quote");
    const fields = text.slice(9, end).split(' ');
    if (fields.length !== 4) throw responseError(`authd's key reply has ${fields.length} fields instead of 4 (id, name, IP, key)`);
    const [id, name, ip, key] = fields as [string, string, string, string];
    if (!isValidAgentId(id)) throw responseError(`authd's key reply has an invalid agent id '${printable(id)}'`);
    if (!isValidAgentName(name)) throw responseError(`authd's key reply has an invalid agent name '${printable(name)}'`);
    if (!isValidKeyIp(ip)) throw responseError(`authd's key reply has an invalid IP '${printable(ip)}'`);
    if (!isValidAgentName(key)) throw responseError("authd's key reply has an invalid key (expected 2 to 128 characters of [A-Za-z0-9._-])");
    return { ok: true, key: { id, name, ip, key } };
  }
  if (text.startsWith('ERROR')) {
    let rest = text.startsWith('ERROR: ') ? text.slice(7) : text.slice(5).replace(/^:?\s*/, '');
    const cut = rest.search(/\r|\n|ERROR: /);
    if (cut >= 0) rest = rest.slice(0, cut);
    if (rest.endsWith(ENROLLMENT_ERROR_SUFFIX)) rest = rest.slice(0, -ENROLLMENT_ERROR_SUFFIX.length);
    return { ok: false, reason: rest.length > 0 ? rest : 'Unable to add agent' };
  }
  if (text.length === 0) throw responseError('authd sent an empty reply');
  throw responseError(`authd sent an unexpected reply starting with '${printable(text)}' (expected OSSEC K:'…' or ERROR: …)`);
}

/**
 * Compares two Wazuh versions on major.minor, as `compare_wazuh_versions(a, b, false)` does: the
 * first 9 characters are read, everything up to the first `v` is skipped, and the dot-separated
 * parts are read as integers (`atoi`).
 *
 * @param a - a version such as `v4.14.7`.
 * @param b - another version.
 * @returns 1 when `a` is newer, -1 when older, 0 when the major.minor are equal.
 */
export function compareWazuhVersions(a: string, b: string): number {
  const [ma, na] = majorMinor(a);
  const [mb, nb] = majorMinor(b);
  if (ma !== mb) return ma > mb ? 1 : -1;
  if (na !== nb) return na > nb ? 1 : -1;
  return 0;
}

function majorMinor(version: string): [number, number] {
  let v = version.slice(0, 9);
  const at = v.indexOf('v');
  if (at >= 0) v = v.slice(at + 1);
  const parts = v.split('.').filter((p) => p.length > 0); // strtok skips empty tokens
  return [atoi(parts[0]), atoi(parts[1])];
}

function atoi(s: string | undefined): number {
  if (s === undefined) return 0;
  const m = /^[\s]*([+-]?[0-9]+)/.exec(s);
  return m === null ? 0 : Number.parseInt(m[1]!, 10);
}

/**
 * `sscanf(buf, " X:'%<width>[^'…]")`: the value starts after the prefix; the conversion fails (empty
 * value) when the character before it is not `'` or when it would match nothing.
 */
function scanField(buf: string, pos: number, prefixLength: number, width: number, stopAtSpace: boolean): string {
  if (buf[pos + prefixLength - 1] !== "'") return '';
  const start = pos + prefixLength;
  let end = start;
  const limit = Math.min(buf.length, start + width);
  while (end < limit) {
    const c = buf[end];
    if (c === "'" || (stopAtSpace && c === ' ')) break;
    end++;
  }
  return buf.slice(start, end);
}

/** `w_validate_group_name`: the checks authd runs while parsing `G:`. */
function validateGroupList(group: string): string | undefined {
  const head = group.slice(0, 255); // %.255s
  if (group.length === 0) return 'Invalid group name: Empty Group';
  const multigroup = group.includes(',');
  if (!multigroup && group.length > MAX_GROUP_NAME_LENGTH) return `Invalid group name: ${head}... group is too large`;
  if (multigroup && group.length > GROUPS_WIDTH - 1) return `Invalid group name: ${head}... multigroup is too large`;
  if (multigroup) {
    for (const individual of group.split(',')) {
      if (individual.length === 0) continue; // strtok skips empty tokens
      if (individual.includes(' ')) return `Invalid group name: ${head}... white spaces are not allowed`;
      if (individual.length > MAX_GROUP_NAME_LENGTH) {
        return `Invalid group name: ${individual.slice(0, 255)}... group is too large`;
      }
    }
    if (group.includes(',,')) return `Invalid group name: ${head}... consecutive ',' are not allowed`;
  }
  const prohibited = `Invalid group name: ${head}... characters '\\/:*?"<>|,' are prohibited`;
  if (/^,+$/.test(group)) return prohibited;
  if (group.startsWith(',') || group.endsWith(',')) return `Invalid group name: ${head}... cannot start or end with ','`;
  if (!GROUP_LIST_CHARS.test(group)) return prohibited;
  return undefined;
}

function fail(reason: string): EnrollmentRequestError {
  return { ok: false, reason };
}

function responseError(message: string): EnrollmentError {
  return new EnrollmentError(message, 'ERR_ENROLLMENT_RESPONSE');
}

/** Short, escaped, one-line view of an untrusted value for error messages. */
function printable(value: unknown): string {
  const s = typeof value === 'string' ? value : String(value);
  const t = s.length > 40 ? `${s.slice(0, 40)}…` : s;
  return JSON.stringify(t).slice(1, -1);
}
