/**
 * A real HAProxy in front of manager nodes, configured the way the Wazuh documentation configures
 * it (two TCP frontends, `balance leastconn`, TCP health checks, an admin stats socket), started
 * from a test with a generated config in a fresh temp directory and stopped after.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { systemClock } from '../../clock.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import { AgentlinkError, ConfigError, ToolError } from '../../errors.js';
import { silentLogger } from '../../logger.js';
import { checkAddress, checkBackends, checkExtraLines, checkPort, checkPositiveInt, duration, endpoint, isBindFailure } from './common.js';
import type { ExtraLines, LbBackend } from './common.js';
import { LB_DEBIAN_PACKAGE, resolveLbBinary } from './find-binary.js';
import { createRunDir, ManagedProcess, pickFreePorts, sleep } from './process.js';
import { HaproxyRuntimeApi } from './runtime-api.js';
import type { ServerCheckOptions } from './runtime-api.js';

const execFileAsync = promisify(execFile);

/** Name of the events (1514) backend, as the Wazuh HAProxy helper names it. */
export const HAPROXY_EVENTS_BACKEND = 'wazuh_cluster';
/** Name of the events (1514) frontend, as the Wazuh HAProxy helper names it. */
export const HAPROXY_EVENTS_FRONTEND = 'wazuh_cluster_front';
/** Name of the enrollment (1515) frontend and backend, as in the Wazuh documentation. */
export const HAPROXY_ENROLLMENT_PROXY = 'wazuh_register';

/** HAProxy timeouts, in milliseconds. Defaults are the Wazuh documentation's. */
export interface HaproxyTimeouts {
  /**
   * Time to establish the connection to a server.
   * @default 10000
   */
  connect?: number;
  /**
   * Client inactivity timeout.
   * @default 60000
   */
  client?: number;
  /**
   * Server inactivity timeout.
   * @default 60000
   */
  server?: number;
  /**
   * Time a connection may wait in the queue for a free server slot.
   * @default 60000
   */
  queue?: number;
  /**
   * Extra read timeout of a health check once connected.
   * @default 10000
   */
  check?: number;
}

/** Options of {@link HaproxyBalancer.start}. */
export interface HaproxyBalancerOptions {
  /** The remoted (events, 1514) listeners of the manager nodes: the `wazuh_cluster` backend. At least one. */
  backends: readonly LbBackend[];
  /** The authd (enrollment, 1515) listeners: the `wazuh_register` backend. No enrollment frontend when omitted. */
  enrollmentBackends?: readonly LbBackend[];
  /**
   * Balancing algorithm of both backends.
   * @default 'leastconn'
   */
  balance?: 'leastconn' | 'roundrobin';
  /**
   * Address the frontends bind.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port of the events frontend; 0 picks a free port.
   * @default 0
   */
  eventsPort?: number;
  /**
   * Port of the enrollment frontend; 0 picks a free port.
   * @default 0
   */
  enrollmentPort?: number;
  /**
   * Health-check interval (`inter`) in milliseconds; fast for tests (HAProxy's own default is 2000).
   * @default 1000
   */
  checkIntervalMs?: number;
  /**
   * Failed checks before a server is marked DOWN (`fall`).
   * @default 2
   */
  fall?: number;
  /**
   * Passed checks before a DOWN server is marked UP again (`rise`).
   * @default 2
   */
  rise?: number;
  /** Timeouts; each defaults to the Wazuh documentation's value. */
  timeouts?: HaproxyTimeouts;
  /**
   * Global and per-frontend connection limit (`maxconn`).
   * @default 4000
   */
  maxconn?: number;
  /** Extra raw lines appended to the `global` and `defaults` sections. */
  extraConfig?: { global?: ExtraLines; defaults?: ExtraLines };
  /**
   * The haproxy binary; searched in `PATH`, `/usr/sbin` (and `AGENTLINK_HAPROXY`) when omitted.
   */
  binary?: string;
  /**
   * How long to wait for HAProxy to be ready, in milliseconds.
   * @default 10000
   */
  startTimeoutMs?: number;
  /**
   * How long `stop()` waits after SIGTERM before SIGKILL, in milliseconds.
   * @default 5000
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
export interface HaproxyConfigInput {
  /** Events backends. */
  backends: readonly LbBackend[];
  /** Enrollment backends (empty: no enrollment frontend). */
  enrollmentBackends: readonly LbBackend[];
  /** Balancing algorithm. */
  balance: 'leastconn' | 'roundrobin';
  /** Bind address. */
  host: string;
  /** Events frontend port (non-zero). */
  eventsPort: number;
  /** Enrollment frontend port (non-zero, ignored without enrollment backends). */
  enrollmentPort: number;
  /** Admin stats socket path. */
  socketPath: string;
  /** Health-check interval in ms. */
  checkIntervalMs: number;
  /** `fall`. */
  fall: number;
  /** `rise`. */
  rise: number;
  /** Timeouts in ms, all set. */
  timeouts: Required<HaproxyTimeouts>;
  /** `maxconn`. */
  maxconn: number;
  /** Extra lines. */
  extraGlobal: readonly string[];
  /** Extra lines. */
  extraDefaults: readonly string[];
}

/**
 * Renders the HAProxy configuration: the shape of the Wazuh documentation with the names the Wazuh
 * HAProxy helper uses (`wazuh_cluster_front` → `wazuh_cluster`, `wazuh_register`).
 *
 * @param input - checked options with concrete ports and socket path.
 * @returns the configuration text.
 */
export function renderHaproxyConfig(input: HaproxyConfigInput): string {
  const t = input.timeouts;
  const server = (b: LbBackend): string =>
    `    server ${b.name} ${endpoint(b.address, b.port)} check inter ${input.checkIntervalMs} fall ${input.fall} rise ${input.rise}`;
  const lines = [
    '# Generated by agentlink (src/testing/lb/haproxy.ts): the Wazuh documentation layout.',
    'global',
    `    maxconn ${input.maxconn}`,
    `    stats socket ${input.socketPath} mode 600 level admin`,
    '    stats timeout 30s',
    ...input.extraGlobal.map((line) => `    ${line}`),
    '',
    'defaults',
    '    mode tcp',
    `    maxconn ${input.maxconn}`,
    '    option redispatch',
    '    retries 3',
    `    timeout connect ${duration(t.connect)}`,
    `    timeout client ${duration(t.client)}`,
    `    timeout server ${duration(t.server)}`,
    `    timeout queue ${duration(t.queue)}`,
    `    timeout check ${duration(t.check)}`,
    ...input.extraDefaults.map((line) => `    ${line}`),
    '',
    `frontend ${HAPROXY_EVENTS_FRONTEND}`,
    `    bind ${endpoint(input.host, input.eventsPort)}`,
    `    default_backend ${HAPROXY_EVENTS_BACKEND}`,
    '',
    `backend ${HAPROXY_EVENTS_BACKEND}`,
    `    balance ${input.balance}`,
    ...input.backends.map(server),
  ];
  if (input.enrollmentBackends.length > 0) {
    lines.push(
      '',
      `frontend ${HAPROXY_ENROLLMENT_PROXY}`,
      `    bind ${endpoint(input.host, input.enrollmentPort)}`,
      `    default_backend ${HAPROXY_ENROLLMENT_PROXY}`,
      '',
      `backend ${HAPROXY_ENROLLMENT_PROXY}`,
      `    balance ${input.balance}`,
      ...input.enrollmentBackends.map(server),
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Resolves the haproxy binary to use, or explains how to install it.
 *
 * @param binary - an explicit path, or undefined to search.
 * @returns the path.
 * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` naming the Debian package.
 */
export async function resolveHaproxyBinary(binary?: string): Promise<string> {
  return resolveLbBinary('haproxy', binary, [LB_DEBIAN_PACKAGE.haproxy]);
}

const MAX_START_ATTEMPTS = 3;
const UNIX_SOCKET_PATH_MAX = 100;

/**
 * A running HAProxy with the Wazuh layout, its runtime API, and a clean stop.
 *
 * @example
 * ```ts
 * await using lb = await HaproxyBalancer.start({
 *   backends: [{ name: 'master', address: '127.0.0.1', port: m1.port }, { name: 'worker1', address: '127.0.0.1', port: m2.port }],
 * });
 * // agents connect to 127.0.0.1:lb.eventsPort
 * console.log(await lb.runtime.sessionsPerServer()); // { master: 50, worker1: 50 }
 * ```
 */
export class HaproxyBalancer {
  /** Address the frontends listen on. */
  readonly host: string;
  /** Port of the events frontend (`wazuh_cluster_front`, the 1514 role). */
  readonly eventsPort: number;
  /** Port of the enrollment frontend (`wazuh_register`, the 1515 role); undefined without enrollment backends. */
  readonly enrollmentPort: number | undefined;
  /** The configuration text HAProxy runs with. */
  readonly config: string;
  /** The temp directory holding the config and the admin socket (removed by `stop()`). */
  readonly dir: string;
  /** Path of the config file. */
  readonly configPath: string;
  /** Path of the admin stats socket. */
  readonly socketPath: string;
  /** The haproxy binary used. */
  readonly binary: string;
  /** HAProxy's runtime API on the admin socket. */
  readonly runtime: HaproxyRuntimeApi;
  /** The health-check settings of the configured servers, for servers added at run time (`runtime.addServer`). */
  readonly serverCheck: Required<ServerCheckOptions>;
  readonly #process: ManagedProcess;
  readonly #stopTimeoutMs: number;
  readonly #logger: Logger;
  #stopping: Promise<void> | undefined;

  private constructor(init: {
    host: string;
    eventsPort: number;
    enrollmentPort: number | undefined;
    config: string;
    dir: string;
    configPath: string;
    socketPath: string;
    binary: string;
    runtime: HaproxyRuntimeApi;
    serverCheck: Required<ServerCheckOptions>;
    process: ManagedProcess;
    stopTimeoutMs: number;
    logger: Logger;
  }) {
    this.host = init.host;
    this.eventsPort = init.eventsPort;
    this.enrollmentPort = init.enrollmentPort;
    this.config = init.config;
    this.dir = init.dir;
    this.configPath = init.configPath;
    this.socketPath = init.socketPath;
    this.binary = init.binary;
    this.runtime = init.runtime;
    this.serverCheck = init.serverCheck;
    this.#process = init.process;
    this.#stopTimeoutMs = init.stopTimeoutMs;
    this.#logger = init.logger;
  }

  /** The HAProxy process id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** Whether the HAProxy process is still running. */
  get running(): boolean {
    return this.#process.exit === undefined;
  }

  /** The last 64 KiB HAProxy wrote (alerts and warnings: server DOWN/UP transitions). */
  output(): string {
    return this.#process.output();
  }

  /**
   * Writes the config into a fresh temp directory, checks it with `haproxy -c`, starts
   * `haproxy -f <cfg> -db` and waits until the runtime socket answers and every frontend is OPEN
   * (bound). No probe connection is made: it would be proxied to a backend and counted as a session.
   * With ports left at 0, a start that fails to bind is retried with new ports (3 attempts).
   *
   * @param options - backends, ports, checks, timeouts.
   * @returns the running balancer.
   * @throws {@link agentlink!ConfigError} for impossible options; {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` when haproxy
   *   is missing (naming the Debian package), rejects the config (with its output) or does not start.
   */
  static async start(options: HaproxyBalancerOptions): Promise<HaproxyBalancer> {
    const backends = checkBackends(options.backends, 'backends');
    const enrollmentBackends = options.enrollmentBackends === undefined ? [] : checkBackends(options.enrollmentBackends, 'enrollmentBackends');
    const balance = options.balance ?? 'leastconn';
    if (balance !== 'leastconn' && balance !== 'roundrobin') {
      throw new ConfigError(`balance must be 'leastconn' or 'roundrobin'`, { element: 'balance', value: balance });
    }
    const host = checkAddress(options.host ?? '127.0.0.1', 'host');
    const eventsPort = checkPort(options.eventsPort ?? 0, 'eventsPort', true);
    const enrollmentPort = checkPort(options.enrollmentPort ?? 0, 'enrollmentPort', true);
    const t = options.timeouts ?? {};
    const timeouts: Required<HaproxyTimeouts> = {
      connect: checkPositiveInt(t.connect ?? 10_000, 'timeouts.connect'),
      client: checkPositiveInt(t.client ?? 60_000, 'timeouts.client'),
      server: checkPositiveInt(t.server ?? 60_000, 'timeouts.server'),
      queue: checkPositiveInt(t.queue ?? 60_000, 'timeouts.queue'),
      check: checkPositiveInt(t.check ?? 10_000, 'timeouts.check'),
    };
    const base = {
      backends,
      enrollmentBackends,
      balance,
      host,
      checkIntervalMs: checkPositiveInt(options.checkIntervalMs ?? 1000, 'checkIntervalMs'),
      fall: checkPositiveInt(options.fall ?? 2, 'fall'),
      rise: checkPositiveInt(options.rise ?? 2, 'rise'),
      timeouts,
      maxconn: checkPositiveInt(options.maxconn ?? 4000, 'maxconn'),
      extraGlobal: checkExtraLines(options.extraConfig?.global, 'extraConfig.global'),
      extraDefaults: checkExtraLines(options.extraConfig?.defaults, 'extraConfig.defaults'),
    };
    const startTimeoutMs = checkPositiveInt(options.startTimeoutMs ?? 10_000, 'startTimeoutMs');
    const stopTimeoutMs = checkPositiveInt(options.stopTimeoutMs ?? 5_000, 'stopTimeoutMs');
    const logger = (options.logger ?? silentLogger).child({ component: 'haproxy' });
    const clock = options.clock ?? systemClock;
    const binary = await resolveHaproxyBinary(options.binary);
    const picksPorts = eventsPort === 0 || (enrollmentBackends.length > 0 && enrollmentPort === 0);

    for (let attempt = 1; ; attempt++) {
      const dir = await createRunDir('agentlink-haproxy-');
      try {
        const [freeA = 0, freeB = 0] = picksPorts ? await pickFreePorts(2, host) : [];
        const input: HaproxyConfigInput = {
          ...base,
          eventsPort: eventsPort === 0 ? freeA : eventsPort,
          enrollmentPort: enrollmentPort === 0 ? freeB : enrollmentPort,
          socketPath: path.join(dir, 'admin.sock'),
        };
        if (input.socketPath.length > UNIX_SOCKET_PATH_MAX) {
          throw new ToolError(`The admin socket path '${input.socketPath}' is too long for a unix socket; set TMPDIR to a shorter directory`, 'ERR_RESOURCE_LIMIT');
        }
        const config = renderHaproxyConfig(input);
        const configPath = path.join(dir, 'haproxy.cfg');
        await writeFile(configPath, config, { mode: 0o600 });
        await checkConfig(binary, configPath);
        const proc = await ManagedProcess.spawn(binary, ['-f', configPath, '-db'], { cwd: dir, clock });
        const runtime = new HaproxyRuntimeApi(input.socketPath, { clock, timeoutMs: 2_000 });
        const balancer = new HaproxyBalancer({
          host,
          eventsPort: input.eventsPort,
          enrollmentPort: enrollmentBackends.length > 0 ? input.enrollmentPort : undefined,
          config,
          dir,
          configPath,
          socketPath: input.socketPath,
          binary,
          runtime: new HaproxyRuntimeApi(input.socketPath, { clock }),
          serverCheck: { inter: input.checkIntervalMs, fall: input.fall, rise: input.rise },
          process: proc,
          stopTimeoutMs,
          logger,
        });
        try {
          await waitUntilReady(proc, runtime, enrollmentBackends.length > 0, startTimeoutMs, clock);
        } catch (err) {
          await balancer.stop();
          throw err;
        }
        logger.debug({ pid: proc.pid, eventsPort: balancer.eventsPort, enrollmentPort: balancer.enrollmentPort, dir }, 'haproxy started');
        return balancer;
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        const retry = picksPorts && attempt < MAX_START_ATTEMPTS && err instanceof AgentlinkError && isBindFailure(err.message);
        if (!retry) throw err;
        logger.debug({ attempt }, 'haproxy could not bind a picked port; retrying with new ports');
      }
    }
  }

  /**
   * Stops HAProxy: SIGTERM (immediate stop, sessions closed), SIGKILL after `stopTimeoutMs`, then
   * removes the temp directory. Idempotent.
   *
   * @returns when HAProxy has exited and the directory is gone.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const exit = await this.#process.stop([{ signal: 'SIGTERM', waitMs: this.#stopTimeoutMs }]);
      this.#logger.debug({ pid: this.pid, ...exit }, 'haproxy stopped');
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.#stopping;
  }

  /** Same as {@link HaproxyBalancer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

async function checkConfig(binary: string, configPath: string): Promise<void> {
  try {
    await execFileAsync(binary, ['-c', '-f', configPath], { timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message?: string };
    const detail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || (e.message ?? String(err));
    throw new ToolError(`haproxy rejected the generated config ${configPath}:\n${detail}`, 'ERR_EXTERNAL_PROGRAM', { cause: err });
  }
}

async function waitUntilReady(proc: ManagedProcess, runtime: HaproxyRuntimeApi, enrollment: boolean, timeoutMs: number, clock: Clock): Promise<void> {
  const started = clock.monotonic();
  const frontends = enrollment ? [HAPROXY_EVENTS_FRONTEND, HAPROXY_ENROLLMENT_PROXY] : [HAPROXY_EVENTS_FRONTEND];
  let lastError = 'no answer yet';
  for (;;) {
    if (proc.exit) {
      throw new ToolError(`haproxy exited during start-up (code ${proc.exit.code}, signal ${proc.exit.signal}):\n${proc.output().trim()}`, 'ERR_EXTERNAL_PROGRAM');
    }
    try {
      const rows = await runtime.showStat();
      const open = frontends.every((name) => rows.some((row) => row.pxname === name && row.svname === 'FRONTEND' && row.status === 'OPEN'));
      if (open) return;
      lastError = 'frontends not OPEN yet';
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (clock.monotonic() - started > timeoutMs) {
      throw new ToolError(`haproxy did not become ready within ${timeoutMs} ms (${lastError}):\n${proc.output().trim()}`, 'ERR_EXTERNAL_PROGRAM');
    }
    await sleep(clock, 25);
  }
}
