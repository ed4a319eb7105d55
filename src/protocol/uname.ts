/**
 * The uname line of a keepalive (protocol.md 4.3), both ways: {@link UnameInfo} is what an agent
 * reports and {@link formatUname} writes it; {@link parseUname} is how a manager reads one back
 * (the same fields, plus what remoted derives). Pure functions.
 *
 * @module
 */

/** Agent version this SDK reports by default (startup JSON, uname suffix). */
export const AGENT_VERSION = 'v4.14.7';

/** Host description reported in the keepalive uname line (protocol.md 4.3). */
export interface UnameInfo {
  /** `Linux`, `Darwin`, ... */
  sysname: string;
  /** Host name. */
  nodename: string;
  /** Kernel release. */
  release: string;
  /** Kernel version. */
  version: string;
  /** Architecture, e.g. `x86_64`. */
  machine: string;
  /** OS name, e.g. `Ubuntu`. */
  osName?: string;
  /** OS platform, e.g. `ubuntu`. */
  osPlatform?: string;
  /** OS version, e.g. `22.04.3 LTS (Jammy Jellyfish)`. */
  osVersion?: string;
}

/**
 * A uname line as the manager reads it (`parse_uname_string`): the {@link UnameInfo} fields it holds
 * (each `undefined` when the line's form does not carry it) and what remoted derives from them.
 */
export interface ParsedUname {
  /** The line without the ` - Wazuh vX` suffix. */
  uname: string;
  /** Agent version from the suffix, e.g. `v4.14.7`. */
  agentVersion: string | undefined;
  /** `Linux`, ... (Unix form only). */
  sysname: string | undefined;
  /** Host name. */
  nodename: string | undefined;
  /** Kernel release (Unix form only). */
  release: string | undefined;
  /** Kernel version (Unix form only). */
  version: string | undefined;
  /** Architecture, e.g. `x86_64`. */
  machine: string | undefined;
  /** OS name, e.g. `Ubuntu` or `Microsoft Windows 10 Pro`. */
  osName: string | undefined;
  /** OS platform, e.g. `ubuntu` (Unix form only). */
  osPlatform: string | undefined;
  /** OS version as written, e.g. `22.04.3 LTS (Jammy Jellyfish)`. */
  osVersion: string | undefined;
  /** Leading number of the OS version. */
  osMajor: string | undefined;
  /** Second number of the OS version. */
  osMinor: string | undefined;
  /** Text in parentheses in the OS version, e.g. `Jammy Jellyfish`. */
  osCodename: string | undefined;
}

/**
 * Formats the uname line of a keepalive (protocol.md 4.3):
 * `sysname |nodename |release |version |machine [osName|osPlatform: osVersion] - Wazuh v4.14.7`, or
 * without the brackets and pipes (`sysname nodename release version machine - Wazuh v4.14.7`) when an
 * OS field is missing.
 *
 * @param u - host description.
 * @param version - agent version. @default 'v4.14.7'
 * @returns the uname line.
 */
export function formatUname(u: UnameInfo, version: string = AGENT_VERSION): string {
  const suffix = ` - Wazuh ${version}`;
  if (u.osName && u.osPlatform && u.osVersion) {
    return `${u.sysname} |${u.nodename} |${u.release} |${u.version} |${u.machine} [${u.osName}|${u.osPlatform}: ${u.osVersion}]${suffix}`;
  }
  return `${u.sysname} ${u.nodename} ${u.release} ${u.version} ${u.machine}${suffix}`;
}

/**
 * Extracts the OS fields from a uname line, Unix (`… |machine [name|platform: version]`) or Windows
 * (`name [Ver: version] |node |machine`) form, with or without the ` - Wazuh vX` suffix.
 *
 * @param line - the uname line (without the `#!-` prefix or the ` / <md5>` suffix).
 * @returns the fields; those not present are `undefined`.
 */
export function parseUname(line: string): ParsedUname {
  const r: ParsedUname = {
    uname: line,
    agentVersion: undefined,
    sysname: undefined,
    nodename: undefined,
    release: undefined,
    version: undefined,
    machine: undefined,
    osName: undefined,
    osPlatform: undefined,
    osVersion: undefined,
    osMajor: undefined,
    osMinor: undefined,
    osCodename: undefined,
  };
  let main = line;
  const dash = line.lastIndexOf(' - ');
  if (dash >= 0) {
    main = line.slice(0, dash);
    r.uname = main;
    const v = line.slice(dash + 3).trim();
    r.agentVersion = v.startsWith('Wazuh ') ? v.slice(6) : v;
  }
  const open = main.indexOf(' [');
  const close = open < 0 ? -1 : main.indexOf(']', open);
  if (open >= 0 && close > open) {
    const inside = main.slice(open + 2, close);
    const before = main.slice(0, open);
    const after = main.slice(close + 1);
    if (inside.startsWith('Ver: ')) {
      // Windows: <os_name> [Ver: <os_version>] |<nodename> |<machine>
      r.osName = before;
      r.osVersion = inside.slice(5);
      const parts = after.split(' |').map((s) => s.trim());
      r.nodename = parts[1] || undefined;
      r.machine = parts[2] || undefined;
    } else {
      const bar = inside.indexOf('|');
      const colon = inside.indexOf(': ', bar + 1);
      if (bar >= 0) {
        r.osName = inside.slice(0, bar);
        r.osPlatform = colon >= 0 ? inside.slice(bar + 1, colon) : inside.slice(bar + 1);
        if (colon >= 0) r.osVersion = inside.slice(colon + 2);
      } else if (colon >= 0) {
        r.osName = inside.slice(0, colon);
        r.osVersion = inside.slice(colon + 2);
      } else {
        r.osName = inside;
      }
      fillUnixFields(r, before.split(' |'));
    }
  } else {
    const parts = main.split(' |');
    fillUnixFields(r, parts.length >= 5 ? parts : main.split(' '));
  }
  if (r.osVersion !== undefined) {
    const m = /^([0-9]+)\.?([0-9]*)/.exec(r.osVersion);
    if (m) {
      r.osMajor = m[1];
      r.osMinor = m[2] || undefined;
    }
    const cn = /\(([^)]*)\)/.exec(r.osVersion);
    if (cn) r.osCodename = cn[1];
  }
  return r;
}

function fillUnixFields(r: ParsedUname, p: string[]): void {
  if (p.length < 5) return;
  r.sysname = p[0];
  r.nodename = p[1];
  r.release = p[2];
  r.version = p.slice(3, p.length - 1).join(' |');
  r.machine = p[p.length - 1];
}
