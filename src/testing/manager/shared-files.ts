/**
 * Shared files (protocol.md 4.6): a merged.mg per group, pushed after a keepalive that reports
 * another sum, or on demand: `#!-up file <md5> merged.mg`, chunks of at most 900 bytes, `#!-close file `.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { FILE_CLOSE_MESSAGE, buildFileOpen, buildMergedMg } from '../../protocol/index.js';
import type { Waiters } from '../waiters.js';
import type { ManagerContext } from './context.js';
import type { Outbox } from './outbox.js';
import type { AgentEntry, Registry, Session } from './registry.js';
import type { SharedFileInput } from './types.js';

const FILE_CHUNK = 900;
const UDP_CHUNKS_PER_PAUSE = 31;

interface MergedBundle {
  data: Buffer;
  md5: string;
}

function bundleOf(files: readonly SharedFileInput[], group: string | undefined): MergedBundle {
  const data = buildMergedMg(files, group);
  return { data, md5: createHash('md5').update(data).digest('hex') };
}

/** The groups' shared files and the pushes. */
export class SharedFiles {
  readonly #ctx: ManagerContext;
  readonly #registry: Registry;
  readonly #outbox: Outbox;
  readonly #waiters: Waiters;
  readonly #bundles = new Map<string, MergedBundle>();

  constructor(ctx: ManagerContext, registry: Registry, outbox: Outbox, waiters: Waiters) {
    this.#ctx = ctx;
    this.#registry = registry;
    this.#outbox = outbox;
    this.#waiters = waiters;
  }

  /** Sets (or with an empty list removes) a group's files. */
  set(group: string, files: readonly SharedFileInput[]): void {
    if (files.length === 0) this.#bundles.delete(group);
    else this.#bundles.set(group, bundleOf(files, group));
  }

  /** @returns the md5 of a group's merged.mg, if it has files. */
  sum(group: string): string | undefined {
    return this.#bundles.get(group)?.md5;
  }

  /** After a keepalive: pushes the group's bundle when the agent reports another sum. */
  afterKeepalive(agent: AgentEntry, mergedSum: string | undefined): void {
    const group = this.#ctx.keyStore.groupsOf(agent.key.id)[0] ?? 'default';
    const bundle = this.#bundles.get(group);
    if (bundle !== undefined && mergedSum !== bundle.md5 && !agent.pushing) void this.#push(agent, bundle);
  }

  /** Pushes a bundle of `files` now (see {@link MockManager.pushSharedFile}). */
  async pushNow(target: string | { group: string }, files: readonly SharedFileInput[], group?: string): Promise<number> {
    const bundle = bundleOf(files, group ?? (typeof target === 'string' ? undefined : target.group));
    const agents: AgentEntry[] = [];
    if (typeof target === 'string') {
      const s = this.#registry.get(target);
      if (s !== undefined) agents.push(s);
    } else {
      for (const s of this.#registry.entries()) {
        if (this.#ctx.keyStore.groupsOf(s.key.id)[0] === target.group && this.#registry.channelOf(s) !== undefined) agents.push(s);
      }
    }
    const results = await Promise.all(agents.map((s) => this.#push(s, bundle)));
    return results.filter(Boolean).length;
  }

  async #push(agent: AgentEntry, bundle: MergedBundle): Promise<boolean> {
    if (!this.#ctx.running) return false;
    const { sendBufferSize, udpFilePause } = this.#ctx.opts;
    agent.pushing = true;
    try {
      if (!this.#outbox.sendControl(agent, buildFileOpen(bundle.md5, 'merged.mg'))) return false;
      const { data } = bundle;
      let chunks = 0;
      let off = 0;
      while (off < data.length) {
        const ch = this.#registry.channelOf(agent);
        if (ch === undefined || !this.#ctx.running) return false;
        if (ch.kind === 'tcp' && ch.conn.bufferedOut > sendBufferSize / 2) {
          await drained(ch);
          continue;
        }
        if (!this.#outbox.sendControl(agent, data.subarray(off, Math.min(off + FILE_CHUNK, data.length)))) return false;
        off += FILE_CHUNK;
        chunks++;
        if (ch.kind === 'udp' && chunks % UDP_CHUNKS_PER_PAUSE === 0 && udpFilePause > 0) await this.#waiters.sleep(udpFilePause);
      }
      if (!this.#outbox.sendControl(agent, FILE_CLOSE_MESSAGE)) return false;
      this.#ctx.counters.filesPushed++;
      return true;
    } finally {
      agent.pushing = false;
    }
  }
}

/** Resolves when the session's send queue drains or the session closes. */
function drained(session: Session): Promise<void> {
  return new Promise((resolve) => {
    const conn = session.conn;
    const done = (): void => {
      conn.off('drain', done);
      conn.off('close', done);
      resolve();
    };
    conn.once('drain', done);
    conn.once('close', done);
  });
}
