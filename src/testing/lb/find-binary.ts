/**
 * Finding the load-balancer programs (HAProxy, nginx with its `stream` module) the harness drives.
 * Nothing here starts a balancer: these are the look-ups that decide whether a test can run.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ToolError } from '../../errors.js';

const execFileAsync = promisify(execFile);

/** The load-balancer programs the harness knows how to drive. */
export type LbProgram = 'haproxy' | 'nginx';

/** Directories searched after `PATH`: Debian installs both programs in `/usr/sbin`, which a non-root `PATH` often lacks. */
export const LB_EXTRA_SEARCH_DIRS: readonly string[] = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Environment variables that name a binary explicitly and win over the search. */
export const LB_BINARY_ENV: Readonly<Record<LbProgram, string>> = {
  haproxy: 'AGENTLINK_HAPROXY',
  nginx: 'AGENTLINK_NGINX',
};

/** The Debian/Ubuntu package that provides each program (quoted in error messages and skip reasons). */
export const LB_DEBIAN_PACKAGE: Readonly<Record<LbProgram, string>> = {
  haproxy: 'haproxy',
  nginx: 'nginx',
};

/** The Debian/Ubuntu package that provides nginx's dynamic `stream` module. */
export const NGINX_STREAM_DEBIAN_PACKAGE = 'libnginx-mod-stream';

/** Where distributions put nginx's dynamic `stream` module, tried after the `--modules-path` nginx reports. */
const STREAM_MODULE_CANDIDATES: readonly string[] = [
  '/usr/lib/nginx/modules/ngx_stream_module.so',
  '/usr/lib64/nginx/modules/ngx_stream_module.so',
  '/usr/share/nginx/modules/ngx_stream_module.so',
  '/usr/local/lib/nginx/modules/ngx_stream_module.so',
];

/**
 * Whether `file` is an existing regular file the current user may execute.
 *
 * @param file - absolute path.
 * @returns `true` when it can be run.
 */
export async function isExecutable(file: string): Promise<boolean> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return false;
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds a load-balancer program: the path in `AGENTLINK_HAPROXY` / `AGENTLINK_NGINX` when set,
 * else the first executable `name` in `PATH`, then in {@link LB_EXTRA_SEARCH_DIRS}.
 *
 * @param name - `haproxy` or `nginx`.
 * @param env - the environment to read `PATH` and the override from.
 * @returns the absolute path, or `undefined` when the program is not installed.
 * @example
 * ```ts
 * const haproxy = await findBinary('haproxy'); // '/usr/sbin/haproxy' on Debian
 * ```
 */
export async function findBinary(name: LbProgram, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const override = env[LB_BINARY_ENV[name]];
  if (override !== undefined && override !== '') return (await isExecutable(override)) ? path.resolve(override) : undefined;
  const dirs = (env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '');
  for (const dir of [...dirs, ...LB_EXTRA_SEARCH_DIRS]) {
    const candidate = path.resolve(dir, name);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Where nginx's `stream` module comes from. */
export interface NginxStreamSupport {
  /** `true` when nginx was built with `--with-stream` (no `load_module` needed). */
  builtIn: boolean;
  /** The dynamic module to `load_module`, when it is not built in. */
  modulePath?: string;
}

/**
 * Finds how the given nginx gets its `stream` module: built in (`--with-stream`), or as a dynamic
 * module (`--with-stream=dynamic`, Debian's case, shipped by `libnginx-mod-stream`).
 *
 * @param nginxBinary - the nginx to ask (`nginx -V`).
 * @returns the support found, or `undefined` when nginx has no usable stream module.
 */
export async function findNginxStreamModule(nginxBinary: string): Promise<NginxStreamSupport | undefined> {
  let configure: string;
  try {
    const { stdout, stderr } = await execFileAsync(nginxBinary, ['-V'], { timeout: 10_000 });
    configure = `${stdout}\n${stderr}`; // nginx -V prints to stderr
  } catch {
    return undefined;
  }
  if (/--with-stream(\s|$)/m.test(configure)) return { builtIn: true };
  if (!configure.includes('--with-stream=dynamic')) return undefined;
  const modulesPath = /--modules-path=(\S+)/.exec(configure)?.[1];
  const candidates = modulesPath ? [path.join(modulesPath, 'ngx_stream_module.so'), ...STREAM_MODULE_CANDIDATES] : STREAM_MODULE_CANDIDATES;
  for (const candidate of candidates) {
    try {
      if ((await stat(candidate)).isFile()) return { builtIn: false, modulePath: candidate };
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/** What {@link lbAvailability} found. */
export interface LbAvailability {
  /** Path of HAProxy, when installed. */
  haproxy?: string;
  /** Path of nginx, when installed. */
  nginx?: string;
  /** Whether nginx can proxy TCP (`stream` built in or its dynamic module installed). */
  nginxStream: boolean;
  /** The `load_module` path of the dynamic stream module, when one is needed and found. */
  nginxStreamModule?: string;
  /** What is missing and how to install it (`apt-get install …`); absent when everything is there. */
  reason?: string;
}

/**
 * Reports which real load balancers this machine can run, for tests that skip (or fail, with
 * `AGENTLINK_REQUIRE_LB=1`) when one is missing.
 *
 * @param env - the environment to search with.
 * @returns the programs found and, when something is missing, a reason naming the Debian package.
 */
export async function lbAvailability(env: NodeJS.ProcessEnv = process.env): Promise<LbAvailability> {
  const [haproxy, nginx] = await Promise.all([findBinary('haproxy', env), findBinary('nginx', env)]);
  const stream = nginx === undefined ? undefined : await findNginxStreamModule(nginx);
  const missing: string[] = [];
  if (haproxy === undefined) missing.push(`haproxy not installed (apt-get install ${LB_DEBIAN_PACKAGE.haproxy})`);
  if (nginx === undefined) missing.push(`nginx not installed (apt-get install ${LB_DEBIAN_PACKAGE.nginx} ${NGINX_STREAM_DEBIAN_PACKAGE})`);
  else if (stream === undefined) missing.push(`nginx has no stream module (apt-get install ${NGINX_STREAM_DEBIAN_PACKAGE})`);
  const result: LbAvailability = { nginxStream: stream !== undefined };
  if (haproxy !== undefined) result.haproxy = haproxy;
  if (nginx !== undefined) result.nginx = nginx;
  if (stream?.modulePath !== undefined) result.nginxStreamModule = stream.modulePath;
  if (missing.length > 0) result.reason = missing.join('; ');
  return result;
}

/**
 * Resolves the binary of a load-balancer program, or explains how to install it.
 *
 * @param name - the program.
 * @param binary - an explicit path, or undefined to search (PATH, /usr/sbin, the `AGENTLINK_*` override).
 * @param packages - the Debian packages that provide it, for the error message.
 * @returns the path.
 * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` naming the Debian packages.
 */
export async function resolveLbBinary(name: LbProgram, binary: string | undefined, packages: readonly string[]): Promise<string> {
  const install = `install it with 'apt-get install ${packages.join(' ')}' (Debian/Ubuntu)`;
  if (binary !== undefined) {
    if (await isExecutable(binary)) return binary;
    throw new ToolError(`${name} binary '${binary}' does not exist or is not executable; ${install} or fix the 'binary' option`, 'ERR_EXTERNAL_PROGRAM');
  }
  const found = await findBinary(name);
  if (found === undefined) {
    throw new ToolError(`${name} is not installed (searched PATH, /usr/sbin, ${LB_BINARY_ENV[name]}); ${install}`, 'ERR_EXTERNAL_PROGRAM');
  }
  return found;
}
