/**
 * This host's description for the keepalive uname line (protocol.md 4.3), and the default agent name.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { hostname, machine, release, type, version } from 'node:os';
import type { UnameInfo } from '../protocol/uname.js';

/** OS fields read from an os-release file. */
export interface OsRelease {
  /** `NAME`, e.g. `Ubuntu`. */
  osName: string;
  /** `ID`, e.g. `ubuntu`. */
  osPlatform: string;
  /** `VERSION`, or `VERSION_ID` when there is no `VERSION`, e.g. `22.04.3 LTS (Jammy Jellyfish)`. */
  osVersion: string;
}

/** Where os-release is looked for, in order (freedesktop.org os-release(5)). */
const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'];

/**
 * Parses os-release text (os-release(5)): `KEY=value` lines, values optionally in single or double
 * quotes, with `\"`, `\\`, `` \` `` and `\$` escapes inside double quotes; `#` comments.
 *
 * @param text - the file content.
 * @returns the OS name, platform and version, or `undefined` when `NAME` or `ID` is missing.
 */
export function parseOsRelease(text: string): OsRelease | undefined {
  const vars = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    let value = line.slice(eq + 1);
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\`$])/g, '$1');
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    }
    vars.set(key, value);
  }
  const osName = vars.get('NAME');
  const osPlatform = vars.get('ID');
  const osVersion = vars.get('VERSION') ?? vars.get('VERSION_ID');
  if (!osName || !osPlatform) return undefined;
  return { osName, osPlatform, osVersion: osVersion ?? '' };
}

let cachedOsRelease: OsRelease | null | undefined;

function readOsRelease(): OsRelease | undefined {
  if (cachedOsRelease !== undefined) return cachedOsRelease ?? undefined;
  cachedOsRelease = null;
  for (const path of OS_RELEASE_PATHS) {
    try {
      const parsed = parseOsRelease(readFileSync(path, 'utf8'));
      if (parsed) {
        cachedOsRelease = parsed;
        break;
      }
    } catch {
      // unreadable or missing: try the next one, then go without the [os] part
    }
  }
  return cachedOsRelease ?? undefined;
}

/**
 * This host's uname fields from `node:os` (`sysname` = `os.type()`, `nodename` = `os.hostname()`,
 * `release`, `version`, `machine`) and, on systems with an os-release file, the OS name, platform and
 * version that Wazuh puts in brackets. The os-release file is read once, synchronously, and cached;
 * when it cannot be read the OS fields are left out (the uname line then has no brackets).
 *
 * @returns a fresh object each call.
 */
export function hostUname(): UnameInfo {
  const info: UnameInfo = {
    sysname: type(),
    nodename: hostname(),
    release: release(),
    version: version(),
    machine: machine(),
  };
  const os = readOsRelease();
  if (os) {
    info.osName = os.osName;
    info.osPlatform = os.osPlatform;
    info.osVersion = os.osVersion;
  }
  return info;
}

/**
 * The default enrollment agent name: the host name with every character outside `[A-Za-z0-9._-]`
 * removed, as the Wazuh agent does.
 *
 * @param name - the host name (default: `os.hostname()`).
 * @returns the cleaned name (possibly empty).
 */
export function defaultAgentName(name: string = hostname()): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '');
}

/**
 * This host's uname and default agent name, as `resolveOptions()` fills them in.
 *
 * @internal
 */
export interface HostFacts {
  /** {@link hostUname} with the host name read for it; frozen, shared by the clients of one host name. */
  readonly uname: Readonly<UnameInfo>;
  /** {@link defaultAgentName} of that host name. */
  readonly agentName: string;
}

let hostCache: (HostFacts & { nodename: string }) | undefined;

/**
 * This host's facts, built once per host name: a fleet resolves thousands of clients in a burst,
 * and {@link hostUname} is five `node:os` calls. The host name is read at every call (it can change
 * while a program runs; the kernel fields cannot), the rest only when it changed.
 *
 * @internal
 * @returns the facts of the current host name.
 */
export function hostFacts(): HostFacts {
  const nodename = hostname();
  if (hostCache === undefined || hostCache.nodename !== nodename) {
    const uname: Readonly<UnameInfo> = Object.freeze({ ...hostUname(), nodename });
    hostCache = { nodename, uname, agentName: defaultAgentName(nodename) };
  }
  return hostCache;
}
