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
 * A uname line as the manager reads it: the {@link UnameInfo} fields it holds (each `undefined` when
 * the line's form does not carry it), and the OS fields as remoted stores them
 * (`shared/remoted_op.c`, `parse_uname_string`), which are what a manager's agent list shows.
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
  /** The machine field of the line, e.g. `x86_64`. */
  machine: string | undefined;
  /** OS name, e.g. `Ubuntu` or `Microsoft Windows 10 Pro`. */
  osName: string | undefined;
  /** OS platform, e.g. `ubuntu`; `windows` for the Windows form. */
  osPlatform: string | undefined;
  /**
   * OS version as remoted stores it: without the codename (`22.04.3 LTS` from
   * `22.04.3 LTS (Jammy Jellyfish)`, `12` from `12 (bookworm)`); the whole `Ver:` value on Windows
   * (`10.0.19045.3803`).
   */
  osVersion: string | undefined;
  /** Leading number of the OS version (`22`, `12`, `15`, `10`). */
  osMajor: string | undefined;
  /** Second number of the OS version (`04`; SUSE's service pack: `7` from `15-SP7`; `0` on Windows). */
  osMinor: string | undefined;
  /** What follows major.minor on Windows: the build (`19045.3803`). */
  osBuild: string | undefined;
  /** The text in parentheses after the OS version, e.g. `Jammy Jellyfish`, `bookworm`. */
  osCodename: string | undefined;
  /**
   * Architecture as remoted finds it: on Windows the word after the last `|`; elsewhere the first of
   * `x86_64`, `i386`, `i686`, `sparc`, `amd64`, `i86pc`, `ia64`, `AIX`, `armv6`, `armv7`, `aarch64`,
   * `arm64` found in the line before the bracket (undefined for others, e.g. `ppc64le`).
   */
  osArch: string | undefined;
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

/** The architectures remoted looks for (`get_os_arch`), in its order. */
const ARCHS = ['x86_64', 'i386', 'i686', 'sparc', 'amd64', 'i86pc', 'ia64', 'AIX', 'armv6', 'armv7', 'aarch64', 'arm64'] as const;

/**
 * Reads a uname line as remoted does (`parse_uname_string`): Unix
 * (`sysname |nodename |release |version |machine [name|platform: version (codename)]`), Windows
 * (`name [Ver: major.minor.build] |nodename |machine`), or the bare fallback
 * (`sysname nodename release version machine`), each with or without the ` - Wazuh vX` suffix.
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
    osBuild: undefined,
    osCodename: undefined,
    osArch: undefined,
  };
  let main = line;
  const dash = line.lastIndexOf(' - ');
  if (dash >= 0) {
    main = line.slice(0, dash);
    r.uname = main;
    const v = line.slice(dash + 3).trim();
    r.agentVersion = v.startsWith('Wazuh ') ? v.slice(6) : v;
  }
  const ver = main.indexOf(' [Ver: ');
  if (ver >= 0) {
    parseWindows(r, main.slice(0, ver), main.slice(ver + 7));
    return r;
  }
  const open = main.indexOf(' [');
  const head = open >= 0 ? main.slice(0, open) : main;
  if (open >= 0) {
    parseOsBracket(r, main.slice(open + 2));
    fillUnixFields(r, head.split(' |'));
  } else {
    const parts = main.split(' |');
    fillUnixFields(r, parts.length >= 5 ? parts : main.split(' '));
  }
  r.osArch = ARCHS.find((a) => head.includes(a));
  return r;
}

/** `name [Ver: 10.0.19045.3803] |node |machine`: `rest` is what follows `[Ver: `. */
function parseWindows(r: ParsedUname, name: string, rest: string): void {
  r.osName = name;
  r.osPlatform = 'windows';
  const close = rest.indexOf(']');
  const version = close >= 0 ? rest.slice(0, close) : rest;
  if (close >= 0) {
    const after = rest.slice(close + 1);
    const bar = after.lastIndexOf('|');
    if (bar >= 0) r.osArch = after.slice(bar + 1).trimStart().split(' ')[0] || undefined;
    const parts = after.split(' |').map((p) => p.trim());
    r.nodename = parts[1] || undefined;
    r.machine = parts[2] || undefined;
  }
  r.osVersion = version;
  r.osMajor = /^([0-9]+)/.exec(version)?.[1];
  r.osMinor = /^[0-9]+\.([0-9]+)/.exec(version)?.[1];
  r.osBuild = /^[0-9]+\.[0-9]+\.([0-9]+(\.[0-9]+)*)/.exec(version)?.[1];
}

/** What follows ` [` on a Unix line, to the end: `name|platform: version (codename)]`. */
function parseOsBracket(r: ParsedUname, text: string): void {
  let name = text;
  const colon = name.indexOf(': ');
  if (colon >= 0) {
    let version = name.slice(colon + 2);
    name = name.slice(0, colon);
    if (version.endsWith(']')) version = version.slice(0, -1);
    const paren = version.indexOf(' (');
    if (paren >= 0) {
      let codename = version.slice(paren + 2);
      version = version.slice(0, paren);
      if (codename.endsWith(')')) codename = codename.slice(0, -1);
      r.osCodename = codename;
    }
    r.osVersion = version;
    r.osMajor = /^([0-9]+)/.exec(version)?.[1];
    // major.minor, else SUSE's service pack (15-SP7)
    r.osMinor = /^[0-9]+\.([0-9]+)/.exec(version)?.[1] ?? /^[0-9]+-[Ss][Pp]([0-9]+)/.exec(version)?.[1];
  } else if (name.endsWith(']')) {
    name = name.slice(0, -1);
  }
  const bar = name.indexOf('|');
  if (bar >= 0) {
    r.osPlatform = name.slice(bar + 1);
    name = name.slice(0, bar);
  }
  r.osName = name;
}

function fillUnixFields(r: ParsedUname, p: string[]): void {
  if (p.length < 5) return;
  r.sysname = p[0];
  r.nodename = p[1];
  r.release = p[2];
  r.version = p.slice(3, p.length - 1).join(' |');
  r.machine = p[p.length - 1];
}
