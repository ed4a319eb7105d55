/**
 * Locating and forking the simulator's child processes (fleet workers, the embedded cluster
 * process). Children always run from the compiled build: when the simulator itself runs from
 * TypeScript sources (under vitest), the compiled file in `dist/` is used.
 *
 * @module
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../index.js';

/** The child entry points of the simulator. */
export type ChildEntry = 'worker' | 'cluster-process';

function packageRoot(from: string): string | undefined {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'agentlink') return dir;
    } catch {
      // not here: look one level up
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return undefined;
}

/**
 * The compiled file of a child entry point.
 *
 * @param entry - `worker` or `cluster-process`.
 * @returns the absolute path of the `.js` file.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` when the compiled file does not exist (run `npm run build`).
 */
export function childEntryPath(entry: ChildEntry): string {
  const here = fileURLToPath(import.meta.url);
  let path = join(dirname(here), `${entry}.js`);
  if (here.endsWith('.ts')) {
    const root = packageRoot(dirname(here));
    path = join(root ?? dirname(here), 'dist', 'src', 'simulator', `${entry}.js`);
  }
  if (!existsSync(path)) {
    throw new ToolError(`the simulator's ${entry} entry point ${path} is missing: run npm run build first (worker processes run the compiled code)`, 'ERR_USAGE');
  }
  return path;
}

/**
 * Forks a child entry point with an IPC channel (advanced serialization) and inherited stderr.
 *
 * @param entry - which entry point.
 * @param args - its arguments.
 * @returns the child process.
 */
export function forkChild(entry: ChildEntry, args: readonly string[] = []): ChildProcess {
  return fork(childEntryPath(entry), [...args], {
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** A request/response channel over a child's IPC: every request carries an id, every reply echoes it. */
export class IpcClient {
  readonly #child: ChildProcess;
  readonly #what: string;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #exited: Error | undefined;

  /**
   * @param child - the forked child.
   * @param what - what the child is, for error messages (`cluster process`).
   * @param onEvent - called with every message that is not a reply.
   */
  constructor(child: ChildProcess, what: string, onEvent?: (msg: Record<string, unknown>) => void) {
    this.#child = child;
    this.#what = what;
    child.on('message', (raw: unknown) => {
      const msg = raw as Record<string, unknown>;
      if (typeof msg?.replyTo === 'number') {
        const p = this.#pending.get(msg.replyTo);
        if (!p) return;
        this.#pending.delete(msg.replyTo);
        if (typeof msg.error === 'string') {
          const code = typeof msg.code === 'string' ? msg.code : 'ERR_USAGE';
          p.reject(new ToolError(msg.error, code === 'ERR_RESOURCE_LIMIT' ? 'ERR_RESOURCE_LIMIT' : 'ERR_USAGE'));
        } else p.resolve(msg.result);
        return;
      }
      onEvent?.(msg);
    });
    child.on('exit', (code, signal) => {
      this.#exited = new ToolError(`the ${what} exited (${signal ?? `code ${code}`}) before answering`, 'ERR_USAGE');
      for (const p of this.#pending.values()) p.reject(this.#exited);
      this.#pending.clear();
    });
    child.on('error', () => {
      // reported through 'exit'
    });
  }

  /** The child process. */
  get child(): ChildProcess {
    return this.#child;
  }

  /**
   * Sends a request and waits for its reply.
   *
   * @param op - the operation.
   * @param args - its arguments (structured-clone serialisable).
   * @returns the reply's result.
   */
  request<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, op, ...args }, (err) => {
        if (err && this.#pending.delete(id)) reject(new ToolError(`cannot reach the ${this.#what}: ${err.message}`, 'ERR_USAGE', { cause: err }));
      });
    });
  }

  /**
   * Sends a one-way message.
   *
   * @param msg - the message.
   */
  send(msg: Record<string, unknown>): void {
    if (this.#exited || !this.#child.connected) return;
    this.#child.send(msg, () => {});
  }

  /**
   * Waits for the child to exit, killing it after `graceMs`.
   *
   * @param graceMs - how long to wait before SIGKILL.
   */
  async exit(graceMs = 5000): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * Serves requests from the parent on `process` (the child side of {@link IpcClient}).
 *
 * @param handle - answers one request: returns the result or throws (the message is sent back).
 * @param onEvent - called with one-way messages.
 */
export function serveParent(
  handle: (op: string, msg: Record<string, unknown>) => Promise<unknown>,
  onEvent?: (msg: Record<string, unknown>) => void,
): void {
  process.on('message', (raw: unknown) => {
    const msg = raw as Record<string, unknown>;
    if (typeof msg?.id !== 'number' || typeof msg.op !== 'string') {
      onEvent?.(msg);
      return;
    }
    const id = msg.id;
    handle(msg.op, msg).then(
      (result) => process.send?.({ replyTo: id, result }),
      (err: unknown) =>
        process.send?.({
          replyTo: id,
          error: err instanceof Error ? err.message : String(err),
          code: (err as { code?: unknown })?.code,
        }),
    );
  });
}
