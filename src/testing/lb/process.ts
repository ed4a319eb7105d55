/**
 * Child-process plumbing shared by the HAProxy and nginx harnesses: free-port picking, per-run
 * temp directories (stale ones of dead processes removed), a spawned balancer with a bounded output
 * tail, signal escalation on stop, and two last resorts so no balancer outlives its Node process:
 * a kill of every still-running balancer when Node exits, and a watchdog that kills the balancer's
 * process group when Node dies without exiting (SIGKILL, a crash in native code).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Clock, TimerHandle } from '../../clock.js';
import { ToolError } from '../../errors.js';

/**
 * Picks a TCP (or UDP) port that is free right now by binding `host:0` and closing again. Another
 * program may take it before the caller binds it: callers retry on a bind failure.
 *
 * @param host - the address to bind, `127.0.0.1` in tests.
 * @param protocol - `tcp` or `udp` (TCP and UDP ports are separate).
 * @returns the port number.
 */
export async function pickFreePort(host = '127.0.0.1', protocol: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  if (protocol === 'udp') {
    return new Promise<number>((resolve, reject) => {
      const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      socket.unref();
      socket.once('error', (err) => {
        socket.close();
        reject(new ToolError(`Unable to find a free UDP port on ${host}: ${err.message}`, 'ERR_RESOURCE_LIMIT', { cause: err }));
      });
      socket.bind({ address: host, port: 0, exclusive: true }, () => {
        const { port } = socket.address();
        socket.close(() => resolve(port));
      });
    });
  }
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (err) =>
      reject(new ToolError(`Unable to find a free TCP port on ${host}: ${err.message}`, 'ERR_RESOURCE_LIMIT', { cause: err })),
    );
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Picks `count` distinct free ports (see {@link pickFreePort}).
 *
 * @param count - how many.
 * @param host - the address to bind.
 * @param protocol - `tcp` or `udp`.
 * @returns the ports, all different.
 */
export async function pickFreePorts(count: number, host = '127.0.0.1', protocol: 'tcp' | 'udp' = 'tcp'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await pickFreePort(host, protocol));
  return [...ports];
}

/**
 * Resolves after `ms` on `clock`.
 *
 * @param clock - the clock.
 * @param ms - milliseconds.
 * @returns a promise that resolves after the delay.
 */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(resolve, ms);
  });
}

/** How a child process ended. */
export interface ProcessExit {
  /** Exit code, when it exited by itself. */
  code: number | null;
  /** Signal name, when a signal ended it. */
  signal: NodeJS.Signals | null;
}

/** One step of a stop: send `signal`, then wait up to `waitMs` for the exit. */
export interface StopStep {
  /** The signal to send. */
  signal: NodeJS.Signals;
  /** How long to wait for the exit before the next step, in milliseconds. */
  waitMs: number;
  /** Send the signal to the whole process group (nginx workers included) instead of the main process. */
  group?: boolean;
}

/** File in a run directory that holds the pid of the Node process that owns it. */
const OWNER_FILE = 'owner.pid';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Creates the temp directory of one balancer run (`<tmp>/<prefix>XXXXXX`, holding `owner.pid`), after
 * removing the directories with the same prefix whose owner process is gone: a run that was killed
 * (SIGKILL) could not remove its own. Directories without an owner file are left alone (another
 * process may be creating one right now).
 *
 * @param prefix - `agentlink-haproxy-` or `agentlink-nginx-`.
 * @param tmp - where to create it.
 * @returns the new directory's path.
 */
export async function createRunDir(prefix: string, tmp: string = os.tmpdir()): Promise<string> {
  const entries = await readdir(tmp).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => name.startsWith(prefix))
      .map(async (name) => {
        const dir = path.join(tmp, name);
        const owner = Number((await readFile(path.join(dir, OWNER_FILE), 'utf8').catch(() => '')).trim());
        if (Number.isSafeInteger(owner) && owner > 0 && !isAlive(owner)) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      }),
  );
  const dir = await mkdtemp(path.join(tmp, prefix));
  await writeFile(path.join(dir, OWNER_FILE), `${process.pid}\n`);
  return dir;
}

/**
 * Runs as `/bin/sh -c WATCHDOG agentlink-lb-watchdog BINARY ARGS...` in a new process group: a
 * background subshell blocks reading fd 3, a pipe whose other end only this Node process holds, and
 * the shell then becomes the balancer (`exec`, same pid, fd 3 closed). When Node dies, however it
 * dies, the read ends and the subshell kills the whole group (balancer and workers). When the
 * balancer exits normally, {@link ManagedProcess} closes its end, and the subshell ends the same way.
 */
const WATCHDOG = '(read -r _ <&3; kill -s KILL 0) </dev/null >/dev/null 2>&1 & exec "$@" 3<&-';

const OUTPUT_TAIL_BYTES = 64 * 1024;
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  for (const proc of live) proc.killGroupNow();
}

/**
 * A balancer running as a child process in its own process group, so a stop can reach its workers.
 * Output (stdout and stderr) is kept as a bounded tail for error messages. Every instance still
 * running when Node exits is killed with SIGKILL, so a crashed test leaves no balancer behind.
 */
export class ManagedProcess {
  /** The process id (also the process-group id). */
  readonly pid: number;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** Resolves when the process has exited and its output pipes are closed (never rejects). */
  readonly closed: Promise<void>;
  readonly #clock: Clock;
  #output = '';
  #exit: ProcessExit | undefined;
  #stopping: Promise<ProcessExit> | undefined;

  private constructor(child: ChildProcess, clock: Clock) {
    this.#clock = clock;
    this.pid = child.pid ?? 0;
    const lifeline = child.stdio[3] as Readable | null | undefined;
    lifeline?.on('error', () => undefined);
    const append = (chunk: Buffer): void => {
      this.#output += chunk.toString('utf8');
      if (this.#output.length > OUTPUT_TAIL_BYTES) this.#output = this.#output.slice(-OUTPUT_TAIL_BYTES);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise<ProcessExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        lifeline?.destroy(); // the watchdog ends with it
        resolve(this.#exit);
      });
    });
    this.closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  }

  /**
   * Starts `binary args` detached into its own process group, stdin closed, output captured, behind
   * the watchdog that kills the group if this Node process dies without stopping it.
   *
   * @param binary - the program.
   * @param args - its arguments.
   * @param options - working directory and the clock used for stop deadlines.
   * @returns the running process.
   * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` when it cannot be spawned.
   */
  static async spawn(binary: string, args: readonly string[], options: { cwd: string; clock: Clock }): Promise<ManagedProcess> {
    const child = spawn('/bin/sh', ['-c', WATCHDOG, 'agentlink-lb-watchdog', binary, ...args], {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new ToolError(`Unable to start '${binary}': ${err.message}`, 'ERR_EXTERNAL_PROGRAM', { cause: err })),
      );
    });
    const proc = new ManagedProcess(child, options.clock);
    live.add(proc);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', killAllOnExit);
    }
    return proc;
  }

  /** How the process ended, or `undefined` while it runs. */
  get exit(): ProcessExit | undefined {
    return this.#exit;
  }

  /** The last 64 KiB of what the process wrote to stdout and stderr. */
  output(): string {
    return this.#output;
  }

  /**
   * Waits up to `ms` for the exit.
   *
   * @param ms - deadline in milliseconds.
   * @returns the exit, or `undefined` when the deadline passed first.
   */
  async waitForExit(ms: number): Promise<ProcessExit | undefined> {
    if (this.#exit) return this.#exit;
    let timer: TimerHandle | undefined;
    const deadline = new Promise<undefined>((resolve) => {
      timer = this.#clock.setTimeout(() => resolve(undefined), ms);
    });
    try {
      return await Promise.race([this.exited, deadline]);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  /**
   * Stops the process: each step sends its signal and waits; SIGKILL to the whole group ends it
   * when every step ran out of time. Idempotent: later calls return the first call's promise.
   *
   * @param steps - the escalation, e.g. `[{ signal: 'SIGTERM', waitMs: 5000 }]`.
   * @returns how the process ended.
   */
  stop(steps: readonly StopStep[]): Promise<ProcessExit> {
    this.#stopping ??= this.#stop(steps);
    return this.#stopping;
  }

  async #stop(steps: readonly StopStep[]): Promise<ProcessExit> {
    let exit: ProcessExit | undefined;
    for (const step of steps) {
      if (this.#exit) break;
      this.#signal(step.signal, step.group ?? false);
      exit = await this.waitForExit(step.waitMs);
      if (exit) break;
    }
    if (!this.#exit) this.#signal('SIGKILL', true);
    exit = await this.exited;
    // the output pipes close right after the exit, unless a leftover worker still holds them: end those too
    if (!(await this.#within(this.closed, 1_000))) {
      this.#signal('SIGKILL', true);
      await this.#within(this.closed, 1_000);
    }
    return exit;
  }

  async #within(promise: Promise<void>, ms: number): Promise<boolean> {
    let timer: TimerHandle | undefined;
    try {
      return await Promise.race([
        promise.then(() => true),
        new Promise<false>((resolve) => {
          timer = this.#clock.setTimeout(() => resolve(false), ms);
        }),
      ]);
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  /** Sends SIGKILL to the process group at once (used by the process exit hook). */
  killGroupNow(): void {
    if (!this.#exit) this.#signal('SIGKILL', true);
  }

  #signal(signal: NodeJS.Signals, group: boolean): void {
    try {
      process.kill(group ? -this.pid : this.pid, signal);
    } catch {
      // already gone
    }
  }
}
