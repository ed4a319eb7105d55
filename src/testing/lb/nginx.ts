/**
 * A real nginx `stream` (TCP or UDP) load balancer in front of manager nodes, started from a test with a
 * generated, http-less config in a fresh temp directory (pid, error log and everything else inside
 * it, nothing under /var) and stopped after.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { AgentlinkError, ConfigError, ToolError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { checkAddress, checkBackends, checkExtraLines, checkPort, checkPositiveInt, duration, endpoint, isBindFailure } from './common.js';
import type { ExtraLines, LbBackend } from './common.js';
import { findNginxStreamModule, LB_DEBIAN_PACKAGE, NGINX_STREAM_DEBIAN_PACKAGE, resolveLbBinary } from './find-binary.js';
import { createRunDir, ManagedProcess, pickFreePorts, sleep } from './process.js';

const execFileAsync = promisify(execFile);

/** Name of the events (1514) upstream. */
export const NGINX_EVENTS_UPSTREAM = 'wazuh_cluster';
/** Name of the enrollment (1515) upstream. */
export const NGINX_ENROLLMENT_UPSTREAM = 'wazuh_register';

/**
 * How the upstream picks a server: `least_conn` (the counterpart of HAProxy's leastconn),
 * `round_robin` (nginx's default), or `hash` (`hash $remote_addr consistent`, the Wazuh
 * documentation's nginx example; every client on 127.0.0.1 lands on the same node).
 */
export type NginxBalanceMethod = 'least_conn' | 'round_robin' | 'hash';

/** Options of {@link NginxStreamBalancer.start}. */
export interface NginxStreamBalancerOptions {
  /** The remoted (events, 1514) listeners of the manager nodes. At least one. */
  backends: readonly LbBackend[];
  /** The authd (enrollment, 1515) listeners. No enrollment listener when omitted. */
  enrollmentBackends?: readonly LbBackend[];
  /**
   * Transport of the events listener and its backends: `udp` listens with `listen … udp` and
   * proxies datagrams (each client address is a session, kept for `proxyTimeout` of silence). The
   * enrollment listener is always TCP (authd is TLS).
   * @default 'tcp'
   */
  protocol?: 'tcp' | 'udp';
  /**
   * Upstream balancing method.
   * @default 'least_conn'
   */
  method?: NginxBalanceMethod;
  /**
   * Address nginx listens on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port of the events listener; 0 picks a free port.
   * @default 0
   */
  eventsPort?: number;
  /**
   * Port of the enrollment listener; 0 picks a free port.
   * @default 0
   */
  enrollmentPort?: number;
  /**
   * Failed connects within `failTimeout` that mark a server unavailable (`max_fails`; 0 disables).
   * @default 1
   */
  maxFails?: number;
  /**
   * How long a failed server is skipped, and the window `maxFails` counts in (`fail_timeout`), in ms;
   * a whole number of seconds (nginx reads this directive in seconds).
   * @default 2000
   */
  failTimeout?: number;
  /**
   * Deadline to connect to a server before trying the next (`proxy_connect_timeout`), in ms.
   * @default 2000
   */
  connectTimeout?: number;
  /**
   * Inactivity timeout of a proxied connection (`proxy_timeout`), in ms.
   * @default 600000
   */
  proxyTimeout?: number;
  /**
   * Connections per worker (`worker_connections`); each proxied connection uses two.
   * @default 4096
   */
  workerConnections?: number;
  /** Extra raw lines for the main context and the `stream` block. */
  extraConfig?: { main?: ExtraLines; stream?: ExtraLines };
  /** The nginx binary; searched in `PATH`, `/usr/sbin` (and `AGENTLINK_NGINX`) when omitted. */
  binary?: string;
  /**
   * Path of the dynamic stream module to `load_module`; found from `nginx -V` when omitted,
   * not loaded when nginx has stream built in. `null` forces no `load_module`.
   */
  streamModule?: string | null;
  /**
   * How long to wait for nginx to be ready, in milliseconds.
   * @default 10000
   */
  startTimeoutMs?: number;
  /**
   * How long `stop()` waits after each signal (SIGQUIT, then SIGTERM) before the next, in milliseconds.
   * @default 3000
   */
  stopTimeoutMs?: number;
  /**
   * Logger (pino-compatible).
   * @default silent
   */
  logger?: Logger;
  /**
   * Clock for deadlines and polling.
   * @default systemClock
   */
  clock?: Clock;
}

/** The fully checked options the config is rendered from. */
export interface NginxConfigInput {
  /** Events backends. */
  backends: readonly LbBackend[];
  /** Enrollment backends (empty: no enrollment listener). */
  enrollmentBackends: readonly LbBackend[];
  /** Transport of the events listener. @default 'tcp' */
  protocol?: 'tcp' | 'udp';
  /** Balancing method. */
  method: NginxBalanceMethod;
  /** Listen address. */
  host: string;
  /** Events port (non-zero). */
  eventsPort: number;
  /** Enrollment port (non-zero; ignored without enrollment backends). */
  enrollmentPort: number;
  /** `max_fails`. */
  maxFails: number;
  /** `fail_timeout` in ms. */
  failTimeout: number;
  /** `proxy_connect_timeout` in ms. */
  connectTimeout: number;
  /** `proxy_timeout` in ms. */
  proxyTimeout: number;
  /** `worker_connections`. */
  workerConnections: number;
  /** The temp directory (pid file, error log). */
  dir: string;
  /** `load_module` path, or undefined when stream is built in. */
  streamModule: string | undefined;
  /** Extra lines. */
  extraMain: readonly string[];
  /** Extra lines. */
  extraStream: readonly string[];
}

/**
 * Renders the nginx configuration: no `http` block, one `stream` upstream per role.
 *
 * @param input - checked options with concrete ports and paths.
 * @returns the configuration text.
 */
export function renderNginxConfig(input: NginxConfigInput): string {
  const methodLine = { least_conn: ['least_conn;'], round_robin: [], hash: ['hash $remote_addr consistent;'] }[input.method];
  const upstream = (name: string, list: readonly LbBackend[]): string[] => [
    `    upstream ${name} {`,
    ...methodLine.map((line) => `        ${line}`),
    ...list.map((b) => `        server ${endpoint(b.address, b.port)} max_fails=${input.maxFails} fail_timeout=${duration(input.failTimeout)}; # ${b.name}`),
    '    }',
  ];
  const server = (port: number, name: string, udp = false): string[] => [
    '    server {',
    `        listen ${endpoint(input.host, port)}${udp ? ' udp' : ''};`,
    `        proxy_pass ${name};`,
    `        proxy_connect_timeout ${duration(input.connectTimeout)};`,
    `        proxy_timeout ${duration(input.proxyTimeout)};`,
    '    }',
  ];
  const enrollment = input.enrollmentBackends.length > 0;
  const lines = [
    `# Generated by agentlink (src/testing/lb/nginx.ts): ${input.protocol === 'udp' ? 'UDP' : 'TCP'} (stream) balancing only, no http block.`,
    ...(input.streamModule === undefined ? [] : [`load_module ${input.streamModule};`]),
    'worker_processes 1;',
    'daemon off;',
    `pid ${path.join(input.dir, 'nginx.pid')};`,
    `error_log ${path.join(input.dir, 'error.log')} notice;`,
    'worker_shutdown_timeout 1s;',
    ...input.extraMain,
    '',
    'events {',
    `    worker_connections ${input.workerConnections};`,
    '}',
    '',
    'stream {',
    ...upstream(NGINX_EVENTS_UPSTREAM, input.backends),
    ...(enrollment ? upstream(NGINX_ENROLLMENT_UPSTREAM, input.enrollmentBackends) : []),
    ...server(input.eventsPort, NGINX_EVENTS_UPSTREAM, input.protocol === 'udp'),
    ...(enrollment ? server(input.enrollmentPort, NGINX_ENROLLMENT_UPSTREAM) : []),
    ...input.extraStream.map((line) => `    ${line}`),
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Resolves the nginx binary to use, or explains how to install it.
 *
 * @param binary - an explicit path, or undefined to search.
 * @returns the path.
 * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` naming the Debian packages.
 */
export async function resolveNginxBinary(binary?: string): Promise<string> {
  return resolveLbBinary('nginx', binary, [LB_DEBIAN_PACKAGE.nginx, NGINX_STREAM_DEBIAN_PACKAGE]);
}

const MAX_START_ATTEMPTS = 3;

/**
 * A running nginx stream balancer and a clean stop.
 *
 * @example
 * ```ts
 * await using lb = await NginxStreamBalancer.start({
 *   backends: [{ name: 'app1', address: '127.0.0.1', port: a.port }, { name: 'app2', address: '127.0.0.1', port: b.port }],
 * });
 * // clients connect to 127.0.0.1:lb.eventsPort
 * ```
 */
export class NginxStreamBalancer {
  /** Address nginx listens on. */
  readonly host: string;
  /** Port of the events listener (the 1514 role). */
  readonly eventsPort: number;
  /** Transport of the events listener. */
  readonly protocol: 'tcp' | 'udp';
  /** Port of the enrollment listener (the 1515 role); undefined without enrollment backends. */
  readonly enrollmentPort: number | undefined;
  /** The configuration text nginx runs with. */
  readonly config: string;
  /** The temp directory (config, pid file, error log; removed by `stop()`). */
  readonly dir: string;
  /** Path of the config file. */
  readonly configPath: string;
  /** Path of the error log (level `notice`: upstream failures are logged here). */
  readonly errorLogPath: string;
  /** The nginx binary used. */
  readonly binary: string;
  readonly #process: ManagedProcess;
  readonly #stopTimeoutMs: number;
  readonly #logger: Logger;
  #stopping: Promise<void> | undefined;

  private constructor(init: {
    host: string;
    eventsPort: number;
    protocol: 'tcp' | 'udp';
    enrollmentPort: number | undefined;
    config: string;
    dir: string;
    configPath: string;
    binary: string;
    process: ManagedProcess;
    stopTimeoutMs: number;
    logger: Logger;
  }) {
    this.host = init.host;
    this.eventsPort = init.eventsPort;
    this.protocol = init.protocol;
    this.enrollmentPort = init.enrollmentPort;
    this.config = init.config;
    this.dir = init.dir;
    this.configPath = init.configPath;
    this.errorLogPath = path.join(init.dir, 'error.log');
    this.binary = init.binary;
    this.#process = init.process;
    this.#stopTimeoutMs = init.stopTimeoutMs;
    this.#logger = init.logger;
  }

  /** The nginx master process id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** Whether the nginx master process is still running. */
  get running(): boolean {
    return this.#process.exit === undefined;
  }

  /**
   * The error log so far (upstream connect failures, `upstream server temporarily disabled`, …).
   *
   * @returns its text, empty when it cannot be read.
   */
  async errorLog(): Promise<string> {
    return readFile(this.errorLogPath, 'utf8').catch(() => '');
  }

  /**
   * Writes the config into a fresh temp directory, checks it with `nginx -t`, starts
   * `nginx -c <cfg> -p <dir> -e <dir>/error.log` (foreground, one worker) and waits until the master
   * has written its pid file, which nginx does only after binding every listener. No probe connection
   * is made: it would be proxied to a backend. With ports left at 0, a start that fails to bind is
   * retried with new ports (3 attempts).
   *
   * @param options - backends, ports, failure detection, timeouts.
   * @returns the running balancer.
   * @throws {@link agentlink!ConfigError} for impossible options; {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` when nginx or its
   *   stream module is missing (naming the Debian packages), rejects the config (with its output) or does not start.
   */
  static async start(options: NginxStreamBalancerOptions): Promise<NginxStreamBalancer> {
    const backends = checkBackends(options.backends, 'backends');
    const enrollmentBackends = options.enrollmentBackends === undefined ? [] : checkBackends(options.enrollmentBackends, 'enrollmentBackends');
    const protocol = options.protocol ?? 'tcp';
    if (protocol !== 'tcp' && protocol !== 'udp') throw new ConfigError(`protocol must be 'tcp' or 'udp'`, { element: 'protocol', value: protocol });
    const method = options.method ?? 'least_conn';
    if (method !== 'least_conn' && method !== 'round_robin' && method !== 'hash') {
      throw new ConfigError(`method must be 'least_conn', 'round_robin' or 'hash'`, { element: 'method', value: method });
    }
    const host = checkAddress(options.host ?? '127.0.0.1', 'host');
    const eventsPort = checkPort(options.eventsPort ?? 0, 'eventsPort', true);
    const enrollmentPort = checkPort(options.enrollmentPort ?? 0, 'enrollmentPort', true);
    const maxFails = options.maxFails ?? 1;
    if (!Number.isInteger(maxFails) || maxFails < 0) throw new ConfigError('maxFails must be an integer ≥ 0', { element: 'maxFails', value: maxFails });
    const base = {
      backends,
      enrollmentBackends,
      protocol,
      method,
      host,
      maxFails,
      failTimeout: checkWholeSeconds(options.failTimeout ?? 2_000, 'failTimeout'),
      connectTimeout: checkPositiveInt(options.connectTimeout ?? 2_000, 'connectTimeout'),
      proxyTimeout: checkPositiveInt(options.proxyTimeout ?? 600_000, 'proxyTimeout'),
      workerConnections: checkPositiveInt(options.workerConnections ?? 4096, 'workerConnections'),
      extraMain: checkExtraLines(options.extraConfig?.main, 'extraConfig.main'),
      extraStream: checkExtraLines(options.extraConfig?.stream, 'extraConfig.stream'),
    };
    const startTimeoutMs = checkPositiveInt(options.startTimeoutMs ?? 10_000, 'startTimeoutMs');
    const stopTimeoutMs = checkPositiveInt(options.stopTimeoutMs ?? 3_000, 'stopTimeoutMs');
    const logger = (options.logger ?? silentLogger).child({ component: 'nginx' });
    const clock = options.clock ?? systemClock;
    const binary = await resolveNginxBinary(options.binary);
    const streamModule = await resolveStreamModule(binary, options.streamModule);
    const picksPorts = eventsPort === 0 || (enrollmentBackends.length > 0 && enrollmentPort === 0);

    for (let attempt = 1; ; attempt++) {
      const dir = await createRunDir('agentlink-nginx-');
      try {
        const [freeA = 0] = eventsPort === 0 ? await pickFreePorts(1, host, protocol) : [];
        const [freeB = 0] = enrollmentPort === 0 && enrollmentBackends.length > 0 ? await pickFreePorts(1, host) : [];
        const input: NginxConfigInput = {
          ...base,
          eventsPort: eventsPort === 0 ? freeA : eventsPort,
          enrollmentPort: enrollmentPort === 0 ? freeB : enrollmentPort,
          dir,
          streamModule,
        };
        const config = renderNginxConfig(input);
        const configPath = path.join(dir, 'nginx.conf');
        const errorLog = path.join(dir, 'error.log');
        const pidPath = path.join(dir, 'nginx.pid');
        await writeFile(configPath, config, { mode: 0o600 });
        await checkConfig(binary, configPath, dir, errorLog);
        await rm(pidPath, { force: true }); // nginx -t leaves an empty pid file behind
        const proc = await ManagedProcess.spawn(binary, ['-c', configPath, '-p', `${dir}/`, '-e', errorLog], { cwd: dir, clock });
        const balancer = new NginxStreamBalancer({
          host,
          eventsPort: input.eventsPort,
          protocol,
          enrollmentPort: enrollmentBackends.length > 0 ? input.enrollmentPort : undefined,
          config,
          dir,
          configPath,
          binary,
          process: proc,
          stopTimeoutMs,
          logger,
        });
        try {
          await waitUntilReady(proc, pidPath, errorLog, startTimeoutMs, clock);
        } catch (err) {
          await balancer.stop({ graceful: false });
          throw err;
        }
        logger.debug({ pid: proc.pid, eventsPort: balancer.eventsPort, enrollmentPort: balancer.enrollmentPort, dir }, 'nginx started');
        return balancer;
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        const retry = picksPorts && attempt < MAX_START_ATTEMPTS && err instanceof AgentlinkError && isBindFailure(err.message);
        if (!retry) throw err;
        logger.debug({ attempt }, 'nginx could not bind a picked port; retrying with new ports');
      }
    }
  }

  /**
   * Stops nginx: SIGQUIT (graceful: stop listening, close connections within the 1 s
   * `worker_shutdown_timeout`), then SIGTERM, then SIGKILL to the process group (workers included),
   * each after `stopTimeoutMs`; then removes the temp directory. Idempotent.
   *
   * @param options - `graceful: false` starts with SIGTERM (fast shutdown).
   * @returns when nginx has exited and the directory is gone.
   */
  stop(options: { graceful?: boolean } = {}): Promise<void> {
    this.#stopping ??= (async () => {
      const steps = [
        ...(options.graceful === false ? [] : [{ signal: 'SIGQUIT' as const, waitMs: this.#stopTimeoutMs }]),
        { signal: 'SIGTERM' as const, waitMs: this.#stopTimeoutMs },
      ];
      const exit = await this.#process.stop(steps);
      this.#logger.debug({ pid: this.pid, ...exit }, 'nginx stopped');
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.#stopping;
  }

  /** Same as {@link NginxStreamBalancer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

async function resolveStreamModule(binary: string, given: string | null | undefined): Promise<string | undefined> {
  if (given === null) return undefined;
  if (given !== undefined) {
    checkModulePath(given);
    return given;
  }
  const support = await findNginxStreamModule(binary);
  if (support === undefined) {
    throw new ToolError(
      `nginx at '${binary}' has no stream (TCP) module; install it with 'apt-get install ${NGINX_STREAM_DEBIAN_PACKAGE}' (Debian/Ubuntu) or pass 'streamModule'`,
      'ERR_EXTERNAL_PROGRAM',
    );
  }
  return support.builtIn ? undefined : support.modulePath;
}

function checkWholeSeconds(value: unknown, element: string): number {
  const ms = checkPositiveInt(value, element);
  if (ms % 1000 !== 0) throw new ConfigError(`${element} must be a whole number of seconds in ms (nginx has no finer unit here)`, { element, value });
  return ms;
}

function checkModulePath(file: string): void {
  if (/[\s;{}'"]/.test(file)) throw new ConfigError('streamModule must be a plain file path (no spaces, quotes, ; { })', { element: 'streamModule', value: file });
}

async function checkConfig(binary: string, configPath: string, dir: string, errorLog: string): Promise<void> {
  try {
    await execFileAsync(binary, ['-t', '-q', '-c', configPath, '-p', `${dir}/`, '-e', errorLog], { timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message?: string };
    const detail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || (await readFile(errorLog, 'utf8').catch(() => '')).trim() || (e.message ?? String(err));
    throw new ToolError(`nginx rejected the generated config ${configPath}:\n${detail}`, 'ERR_EXTERNAL_PROGRAM', { cause: err });
  }
}

async function waitUntilReady(proc: ManagedProcess, pidPath: string, errorLog: string, timeoutMs: number, clock: Clock): Promise<void> {
  const started = clock.monotonic();
  for (;;) {
    if (proc.exit) {
      const log = (await readFile(errorLog, 'utf8').catch(() => '')).trim();
      throw new ToolError(
        `nginx exited during start-up (code ${proc.exit.code}, signal ${proc.exit.signal}):\n${[proc.output().trim(), log].filter((s) => s !== '').join('\n')}`,
        'ERR_EXTERNAL_PROGRAM',
      );
    }
    const pid = (await readFile(pidPath, 'utf8').catch(() => '')).trim();
    if (pid === String(proc.pid)) return;
    if (clock.monotonic() - started > timeoutMs) {
      const log = (await readFile(errorLog, 'utf8').catch(() => '')).trim();
      throw new ToolError(`nginx did not become ready within ${timeoutMs} ms:\n${log}`, 'ERR_EXTERNAL_PROGRAM');
    }
    await sleep(clock, 25);
  }
}
