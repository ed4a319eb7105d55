/**
 * The real Wazuh agent daemon (wazuh-agentd 4.14.7, C) as a test peer, like the HAProxy binary.
 *
 * Its sources, a build script and notes live outside this repository, in `shared/wazuh-agent/`
 * beside the checkout (looked up in every parent directory of the repository root, or given by
 * `AGENTLINK_WAZUH_AGENT_DIR`). They are never copied into `src/`. This helper:
 * - builds agentd once (cached in `.tmp/wazuh-agentd/`; the build script recompiles nothing when
 *   the sources did not change, and a stamp skips it entirely), with a lock so parallel test files
 *   build once, and compiles `real-agent-tool.c` beside it (unix datagram sockets; see that file);
 * - starts agentd in a fresh home (`.tmp/real-agent/<name>-XXXX/`) with generated `client.keys`,
 *   `ossec.conf` and `local_internal_options.conf`, in the foreground, with its output in
 *   `logs/agentd.stdout`;
 * - injects events through its local queue (`queue/sockets/queue`, a unix datagram socket),
 *   captures active responses on a fake execd queue (`queue/alerts/execq`), reads its log and its
 *   state file (`var/run/wazuh-agentd.state`), and stops it by pid.
 *
 * Missing sources, compiler or -dev packages skip the suites that need agentd, with the reason;
 * with `AGENTLINK_REQUIRE_REAL_AGENT=1` (set by `.ci/run`) they fail instead.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';
import type { TestContext } from 'vitest';
import type { AgentKey } from '../../src/index.js';
import { KeyStore, MockManager } from '../../src/testing/index.js';
import type { MockManagerOptions } from '../../src/testing/index.js';
import { waitFor } from '../integration/lb/backends.js';

const run = promisify(execFile);

/** The repository root (the directory of package.json). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
/** Where agentd is built and cached. */
export const BUILD_DIR = join(REPO_ROOT, '.tmp', 'wazuh-agentd');
const TOOL_SOURCE = fileURLToPath(new URL('./real-agent-tool.c', import.meta.url));
const TOOL = join(BUILD_DIR, 'agentlink', 'real-agent-tool');
const STAMP = join(BUILD_DIR, 'agentlink', 'stamp');
const LOCK = `${BUILD_DIR}.lock`;
const BUILD_TIMEOUT_MS = 15 * 60_000;

/** Whether the real agent can be used here, and why not. */
export interface RealAgentRequirement {
  /** Missing, and missing is allowed: skip. */
  skip: boolean;
  /** Missing although `AGENTLINK_REQUIRE_REAL_AGENT=1`: fail. */
  fail: boolean;
  /** Why it cannot be used; empty when it can. */
  reason: string;
  /** How long the build (or the cache check) took, in ms. */
  buildMs: number;
}

/** The directories where `shared/wazuh-agent` is looked up, in order. */
export function sharedDirCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  const override = env.AGENTLINK_WAZUH_AGENT_DIR;
  if (override !== undefined && override !== '') return [resolve(override)];
  const out: string[] = [];
  for (let dir = dirname(REPO_ROOT); ; dir = dirname(dir)) {
    out.push(join(dir, 'shared', 'wazuh-agent'));
    if (dirname(dir) === dir) return out;
  }
}

/** The first candidate holding `build.sh` and the source tarball, or undefined. */
export function findSharedDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return sharedDirCandidates(env).find((d) => existsSync(join(d, 'build.sh')) && existsSync(join(d, 'agentd_stubs.c')));
}

let cached: Promise<RealAgentRequirement> | undefined;

/**
 * Checks the prerequisites and builds agentd (once per process; the build itself is cached on disk
 * and shared by processes through a lock).
 */
export function realAgentRequirement(env: NodeJS.ProcessEnv = process.env): Promise<RealAgentRequirement> {
  cached ??= (async () => {
    const started = Date.now();
    const reason = await prepare(env);
    const required = env.AGENTLINK_REQUIRE_REAL_AGENT === '1';
    const missing = reason !== '';
    return { skip: missing && !required, fail: missing && required, reason, buildMs: Date.now() - started };
  })();
  return cached;
}

async function prepare(env: NodeJS.ProcessEnv): Promise<string> {
  const shared = findSharedDir(env);
  if (shared === undefined) {
    return `the real agent's sources (shared/wazuh-agent) were not found; looked in ${sharedDirCandidates(env).join(', ')} (set AGENTLINK_WAZUH_AGENT_DIR)`;
  }
  if (process.platform !== 'linux') return `wazuh-agentd is built and run on Linux only (this is ${process.platform})`;
  try {
    await run('gcc', ['--version']);
  } catch {
    return 'no C compiler: gcc not found (apt-get install build-essential)';
  }
  const missing = await missingPackages(join(shared, 'build.sh'));
  if (missing.length > 0) return `missing Debian packages that ${join(shared, 'build.sh')} needs: ${missing.join(' ')} (apt-get install ${missing.join(' ')})`;
  try {
    await buildLocked(shared);
  } catch (err) {
    return `building wazuh-agentd failed: ${(err as Error).message.slice(-3000)}`;
  }
  return '';
}

/** The packages `build.sh` names (its PKGS line) that dpkg says are not installed; none without dpkg. */
async function missingPackages(buildScript: string): Promise<string[]> {
  const line = /^PKGS="([^"]+)"/m.exec(readFileSync(buildScript, 'utf8'));
  if (line === null) return [];
  const pkgs = line[1]!.split(/\s+/).filter(Boolean);
  try {
    const { stdout } = await run('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...pkgs]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const ok = new Set(
      stdout
        .split('\n')
        .filter((l) => l.endsWith('install ok installed'))
        .map((l) => l.split(' ')[0]!.split(':')[0]!),
    );
    return pkgs.filter((p) => !ok.has(p));
  } catch {
    return [];
  }
}

/** What the cached build depends on: the shared files and the tool's source. */
function fingerprint(shared: string): string {
  const parts = ['build.sh', 'agentd_stubs.c', 'wazuh-4.14.7-agentd-src.tar.xz'].map((f) => {
    const p = join(shared, f);
    const s = existsSync(p) ? statSync(p) : undefined;
    return `${p}:${s?.size ?? 0}:${s?.mtimeMs ?? 0}`;
  });
  parts.push(readFileSync(TOOL_SOURCE, 'utf8'));
  return parts.join('\n');
}

function buildIsCurrent(shared: string): boolean {
  try {
    return existsSync(join(BUILD_DIR, 'bin', 'wazuh-agentd')) && existsSync(TOOL) && readFileSync(STAMP, 'utf8') === fingerprint(shared);
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Builds under an exclusive lock file (`.tmp/wazuh-agentd.lock`, holding the builder's pid). */
async function buildLocked(shared: string): Promise<void> {
  mkdirSync(dirname(LOCK), { recursive: true });
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    if (buildIsCurrent(shared)) return;
    let fd: number | undefined;
    try {
      fd = openSync(LOCK, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(LOCK, 'utf8').trim());
      if (!Number.isInteger(holder) || holder <= 0 || !pidAlive(holder)) rmSync(LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`another process (pid ${holder}) holds ${LOCK}`);
      else await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      if (!buildIsCurrent(shared)) await build(shared);
      return;
    } finally {
      rmSync(LOCK, { force: true });
    }
  }
}

async function build(shared: string): Promise<void> {
  mkdirSync(dirname(TOOL), { recursive: true });
  const opts = { timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, SKIP_APT: '1' } };
  try {
    await run('bash', [join(shared, 'build.sh'), BUILD_DIR], opts);
    await run('gcc', ['-O1', '-Wall', '-o', TOOL, TOOL_SOURCE], opts);
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${e.message}\n${e.stderr ?? ''}${e.stdout ?? ''}`);
  }
  writeFileSync(STAMP, fingerprint(shared));
}

/**
 * `describe` that runs only where the real agent can be built. Missing: the suite is skipped with
 * the reason in its name (and a warning), or, with `AGENTLINK_REQUIRE_REAL_AGENT=1`, it holds one
 * failing test that gives the reason. Use with top-level await.
 */
export async function describeIfRealAgent(name: string, body: () => void | Promise<void>, opts: { concurrent?: boolean } = {}): Promise<RealAgentRequirement> {
  const req = await realAgentRequirement();
  if (req.fail) {
    describe(name, () => {
      it('requires the real Wazuh agent (AGENTLINK_REQUIRE_REAL_AGENT=1)', () => {
        throw new Error(`${req.reason}; AGENTLINK_REQUIRE_REAL_AGENT=1 makes a missing real agent a failure`);
      });
    });
  } else if (req.skip) {
    console.warn(`[agentlink] ${name}: SKIPPED: ${req.reason}`);
    describe.skip(`${name} (SKIPPED: ${req.reason})`, body);
  } else {
    (opts.concurrent === true ? describe.concurrent : describe)(name, body);
  }
  return req;
}

// -------------------------------------------------------------------------------------------------
// One agent

/** One `<server>` block. */
export interface RealAgentServer {
  /** Port. */
  port: number;
  /** @default '127.0.0.1' */
  address?: string;
  /** @default 'tcp' */
  protocol?: 'tcp' | 'udp';
  /** agentd's `max_retries`. @default 2 */
  maxRetries?: number;
  /** agentd's `retry_interval`, seconds. @default 1 */
  retryInterval?: number;
}

/** How to set up one agent. agentd's times are whole seconds. */
export interface RealAgentOptions {
  /** Servers, in failover order. */
  servers: readonly RealAgentServer[];
  /** The agent's key; leave it out (with `enrollment`) to make agentd enroll. */
  key?: AgentKey;
  /** `notify_time`, seconds. @default 1 */
  notifyTime?: number;
  /** `time-reconnect`, seconds. @default 10 */
  timeReconnect?: number;
  /** `crypto_method`. @default 'aes' */
  cryptoMethod?: 'aes' | 'blowfish';
  /** `<labels>`: key → value, or `{ value, hidden: true }` for `hidden="yes"`. */
  labels?: Record<string, string | { value: string; hidden: true }>;
  /** `<enrollment>`: authd port, agent name, password (written to a file), groups, delay in seconds. */
  enrollment?: {
    port: number;
    agentName: string;
    password?: string;
    groups?: readonly string[];
    delayAfterEnrollment?: number;
    managerAddress?: string;
    /** `<enabled>`. @default true */
    enabled?: boolean;
  };
  /** `etc/local_internal_options.conf`; merged over `agent.state_interval=1`, `agent.recv_timeout=5`. */
  internalOptions?: Record<string, string | number>;
  /** Bind a fake execd queue (`queue/alerts/execq`) before agentd starts, to capture active responses. */
  execd?: boolean;
  /** A word for the home directory's name. @default 'agent' */
  name?: string;
}

/** Every agent started and not yet stopped in this process (stopped by {@link stopAllRealAgents}). */
const running = new Set<RealAgent>();

/** Builds an event datagram as Wazuh's modules do (`SendMSG`: the location escaped `|`→`||`, `:`→`|:`). */
export function queueMessage(queue: string, location: string, message: string | Buffer): Buffer {
  const escaped = location.replace(/[|:]/g, (c) => `|${c}`);
  return Buffer.concat([Buffer.from(`${queue}:${escaped}:`, 'utf8'), Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8')]);
}

function ossecConf(o: RealAgentOptions, home: string): string {
  const servers = o.servers
    .map(
      (s) =>
        `    <server><address>${s.address ?? '127.0.0.1'}</address><port>${s.port}</port><protocol>${s.protocol ?? 'tcp'}</protocol>` +
        `<max_retries>${s.maxRetries ?? 2}</max_retries><retry_interval>${s.retryInterval ?? 1}</retry_interval></server>`,
    )
    .join('\n');
  const e = o.enrollment;
  const enrollment =
    e === undefined
      ? '    <enrollment><enabled>no</enabled></enrollment>'
      : [
          '    <enrollment>',
          `      <enabled>${e.enabled === false ? 'no' : 'yes'}</enabled>`,
          `      <manager_address>${e.managerAddress ?? '127.0.0.1'}</manager_address>`,
          `      <port>${e.port}</port>`,
          `      <agent_name>${e.agentName}</agent_name>`,
          e.groups !== undefined && e.groups.length > 0 ? `      <groups>${e.groups.join(',')}</groups>` : '',
          e.password !== undefined ? `      <authorization_pass_path>${join(home, 'etc', 'authd.pass')}</authorization_pass_path>` : '',
          `      <delay_after_enrollment>${e.delayAfterEnrollment ?? 1}</delay_after_enrollment>`,
          '    </enrollment>',
        ]
          .filter(Boolean)
          .join('\n');
  const labels =
    o.labels === undefined
      ? ''
      : `  <labels>\n${Object.entries(o.labels)
          .map(([k, v]) => (typeof v === 'string' ? `    <label key="${k}">${v}</label>` : `    <label key="${k}" hidden="yes">${v.value}</label>`))
          .join('\n')}\n  </labels>\n`;
  return [
    '<ossec_config>',
    '  <client>',
    servers,
    '    <config-profile>debian, debian12</config-profile>',
    `    <notify_time>${o.notifyTime ?? 1}</notify_time>`,
    `    <time-reconnect>${o.timeReconnect ?? 10}</time-reconnect>`,
    '    <auto_restart>no</auto_restart>',
    `    <crypto_method>${o.cryptoMethod ?? 'aes'}</crypto_method>`,
    enrollment,
    '  </client>',
    '  <client_buffer><disabled>no</disabled><queue_size>5000</queue_size><events_per_second>500</events_per_second></client_buffer>',
    labels + '  <logging><log_format>plain</log_format></logging>',
    '</ossec_config>',
    '',
  ].join('\n');
}

/** The user and group agentd runs as: the current ones (root in CI). */
function identity(): { user: string; group: string } {
  const me = userInfo();
  if (me.uid === 0) return { user: 'root', group: 'root' };
  const gid = String(process.getgid?.() ?? me.gid);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === gid);
  return { user: me.username, group: line?.split(':')[0] ?? me.username };
}

/** A directory for agent homes: under `.tmp/` unless that path is too long for unix sockets. */
function homesRoot(): string {
  const inRepo = join(REPO_ROOT, '.tmp', 'real-agent');
  // queue/alerts/execq must fit sockaddr_un (108 bytes) and the home must not contain /bin
  if (inRepo.length < 60 && !`${inRepo}/`.includes('/bin/')) return inRepo;
  return join(tmpdir(), 'agentlink-real-agent');
}

/** A running (or stopped) wazuh-agentd in its own home. */
export class RealAgent {
  /** The agent's home (what agentd calls its installation directory). */
  readonly home: string;
  readonly options: RealAgentOptions;
  #proc: ChildProcess | undefined;
  #exit: Promise<number | null> = Promise.resolve(null);
  #execd: ChildProcess | undefined;
  readonly #responses: Buffer[] = [];

  private constructor(home: string, options: RealAgentOptions) {
    this.home = home;
    this.options = options;
  }

  /**
   * Creates a home and starts agentd in it. The requirement must have been met
   * ({@link describeIfRealAgent}).
   */
  static async start(options: RealAgentOptions): Promise<RealAgent> {
    const root = homesRoot();
    mkdirSync(root, { recursive: true });
    const home = mkdtempSync(join(root, `${options.name ?? 'agent'}-`));
    for (const d of ['bin', 'etc/shared', 'queue/sockets', 'queue/alerts', 'queue/diff', 'queue/rids', 'queue/logcollector', 'var/run', 'var/incoming', 'var/upgrade', 'logs', 'tmp', 'active-response/bin']) {
      mkdirSync(join(home, d), { recursive: true });
    }
    try {
      linkSync(join(BUILD_DIR, 'bin', 'wazuh-agentd'), join(home, 'bin', 'wazuh-agentd'));
    } catch {
      copyFileSync(join(BUILD_DIR, 'bin', 'wazuh-agentd'), join(home, 'bin', 'wazuh-agentd'));
    }
    copyFileSync(join(BUILD_DIR, 'etc', 'internal_options.conf'), join(home, 'etc', 'internal_options.conf'));
    const internal = { 'agent.state_interval': 1, 'agent.recv_timeout': 5, ...options.internalOptions };
    writeFileSync(
      join(home, 'etc', 'local_internal_options.conf'),
      Object.entries(internal)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
    writeFileSync(join(home, 'etc', 'shared', 'merged.mg'), '');
    const k = options.key;
    writeFileSync(join(home, 'etc', 'client.keys'), k === undefined ? '' : `${k.id} ${k.name} ${k.ip} ${k.key}\n`, { mode: 0o640 });
    if (options.enrollment?.password !== undefined) writeFileSync(join(home, 'etc', 'authd.pass'), `${options.enrollment.password}\n`, { mode: 0o640 });
    writeFileSync(join(home, 'etc', 'ossec.conf'), ossecConf(options, home));
    const agent = new RealAgent(home, options);
    running.add(agent);
    if (options.execd === true) await agent.#startExecd();
    agent.#spawn();
    return agent;
  }

  /** agentd's pid while it runs. */
  get pid(): number | undefined {
    return this.#proc?.exitCode === null && this.#proc.signalCode === null ? this.#proc.pid : undefined;
  }

  /** Path of agentd's output (its log, plain format). */
  get logPath(): string {
    return join(this.home, 'logs', 'agentd.stdout');
  }

  /** Path of the local event queue socket. */
  get queuePath(): string {
    return join(this.home, 'queue', 'sockets', 'queue');
  }

  #spawn(): void {
    const { user, group } = identity();
    const out = openSync(this.logPath, 'a');
    const proc = spawn(TOOL, ['exec', join(this.home, 'bin', 'wazuh-agentd'), '-f', '-dd', '-u', user, '-g', group], {
      cwd: this.home,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.#proc = proc;
    this.#exit = new Promise((resolveExit) => {
      proc.once('exit', (code, signal) => resolveExit(code ?? (signal === null ? null : -1)));
      proc.once('error', () => resolveExit(-1));
    });
  }

  async #startExecd(): Promise<void> {
    const path = join(this.home, 'queue', 'alerts', 'execq');
    const proc = spawn(TOOL, ['recv', path], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#execd = proc;
    let buf = Buffer.alloc(0);
    let ready!: () => void;
    const bound = new Promise<void>((r) => (ready = r));
    proc.stdout!.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const len = buf.readUInt32LE(0);
        if (len === 0xffffffff) {
          buf = buf.subarray(4);
          ready();
          continue;
        }
        if (buf.length < 4 + len) break;
        this.#responses.push(Buffer.from(buf.subarray(4, 4 + len)));
        buf = buf.subarray(4 + len);
      }
    });
    await Promise.race([bound, waitFor(() => proc.exitCode !== null, 5_000, 'the fake execd socket to bind').then(() => Promise.reject(new Error('fake execd exited')))]);
  }

  /** Datagrams agentd sent to the fake execd queue (active responses), in order. */
  activeResponses(): Buffer[] {
    return [...this.#responses];
  }

  /** Everything agentd wrote so far. */
  log(): string {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  /** The log's current length, to wait for lines written after now. */
  mark(): number {
    try {
      return statSync(this.logPath).size;
    } catch {
      return 0;
    }
  }

  /** The log written since `mark` (bytes). */
  logSince(mark: number): string {
    return readFileSync(this.logPath).subarray(mark).toString('utf8');
  }

  /**
   * Waits until the log (after `since`) has a line matching `pattern`.
   *
   * @returns the matching line.
   */
  async waitForLog(pattern: RegExp | string, opts: { since?: number; timeout?: number } = {}): Promise<string> {
    const re = typeof pattern === 'string' ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : pattern;
    let found = '';
    const timeout = opts.timeout ?? 15_000;
    try {
      await waitFor(
        () => {
          if (this.#proc?.exitCode !== null && this.#proc?.exitCode !== undefined) throw new Error(`agentd exited (${this.#proc.exitCode}) while waiting for ${re}`);
          found = this.logSince(opts.since ?? 0)
            .split('\n')
            .find((l) => re.test(l)) ?? '';
          return found !== '';
        },
        timeout,
        `agentd to log ${re}`,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- last lines of ${this.logPath}:\n${this.log().split('\n').slice(-25).join('\n')}`);
    }
    return found;
  }

  /** Lines of the log (after `since`) matching `pattern`. */
  logLines(pattern: RegExp, since = 0): string[] {
    return this.logSince(since)
      .split('\n')
      .filter((l) => pattern.test(l));
  }

  /** agentd's state file (`var/run/wazuh-agentd.state`) as key → value. */
  state(): Record<string, string> {
    const out: Record<string, string> = {};
    let text = '';
    try {
      text = readFileSync(join(this.home, 'var', 'run', 'wazuh-agentd.state'), 'utf8');
    } catch {
      return out;
    }
    for (const m of text.matchAll(/^(\w+)='([^']*)'$/gm)) out[m[1]!] = m[2]!;
    return out;
  }

  /** Waits until the state file satisfies `pred`. */
  async waitForState(pred: (s: Record<string, string>) => boolean, timeout = 10_000): Promise<Record<string, string>> {
    let last: Record<string, string> = {};
    await waitFor(
      () => {
        last = this.state();
        return pred(last);
      },
      timeout,
      'agentd state file',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last state: ${JSON.stringify(last)}`);
    });
    return last;
  }

  /**
   * Sends datagrams to agentd's local queue, as its modules do (build them with {@link queueMessage}).
   * Waits for the queue socket to exist first.
   */
  async inject(datagrams: readonly (Buffer | string)[], timeout = 10_000): Promise<void> {
    await waitFor(() => existsSync(this.queuePath), timeout, `${this.queuePath} to exist`);
    const framed = Buffer.concat(
      datagrams.flatMap((d) => {
        const b = Buffer.isBuffer(d) ? d : Buffer.from(d, 'utf8');
        const len = Buffer.alloc(4);
        len.writeUInt32LE(b.length, 0);
        return [len, b];
      }),
    );
    await new Promise<void>((resolveSend, reject) => {
      const proc = execFile(TOOL, ['send', this.queuePath], { timeout, encoding: 'utf8' }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`injecting into ${this.queuePath} failed: ${err.message} ${stderr}`));
        else resolveSend();
      });
      proc.stdin!.end(framed);
    });
  }

  /** Sends SIGTERM (agentd says "agent stopped" to the manager) and waits; SIGKILL after 10 s. */
  async stop(): Promise<number | null> {
    const proc = this.#proc;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await this.#exit;
      clearTimeout(timer);
    }
    const code = await this.#exit;
    this.#stopExecd();
    running.delete(this);
    return code;
  }

  /** Sends a signal by pid (SIGKILL: a crash; SIGSTOP/SIGCONT: a frozen agent). */
  signal(sig: NodeJS.Signals): void {
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, sig);
  }

  /** Kills agentd (SIGKILL) and waits for it. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.#exit;
  }

  /** Starts agentd again in the same home (keys, `queue/rids`, merged.mg and the log are kept). */
  async restart(): Promise<void> {
    await this.stop();
    running.add(this);
    this.#spawn();
  }

  #stopExecd(): void {
    const p = this.#execd;
    this.#execd = undefined;
    if (p !== undefined && p.exitCode === null) {
      p.stdin!.end();
      p.kill('SIGTERM');
    }
  }

  /** Stops agentd and removes its home (kept when `keep` is true, to read it after a failure). */
  async dispose(keep = false): Promise<void> {
    await this.stop();
    if (!keep) rmSync(this.home, { recursive: true, force: true });
  }
}

/** Stops every agent this process started and has not stopped (for `afterAll`). */
export async function stopAllRealAgents(): Promise<void> {
  await Promise.all([...running].map((a) => a.dispose()));
}


/**
 * Starts an agent that is stopped when the test ends; its home is removed, or kept (and its path
 * printed) when the test failed, to read its log.
 */
export async function startRealAgent(ctx: TestContext, options: RealAgentOptions): Promise<RealAgent> {
  const agent = await RealAgent.start(options);
  ctx.onTestFinished(async (c) => {
    const failed = c.task.result?.state === 'fail';
    if (failed) console.warn(`[real-agent] test failed: agent home kept at ${agent.home}`);
    await agent.dispose(failed);
  });
  return agent;
}

/** A started MockManager that knows one generated agent key, closed when the test ends. */
export async function managerWithKey(ctx: TestContext, options: MockManagerOptions = {}): Promise<{ manager: MockManager; key: AgentKey }> {
  const keys = new KeyStore();
  const [key] = keys.generate(1);
  const manager = new MockManager({ keys, ...options });
  ctx.onTestFinished(() => manager.close());
  await manager.start();
  return { manager, key: key! };
}
