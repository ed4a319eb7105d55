/**
 * FileCounterStore under interleaved saves: whatever order saves and writes take, once `flush()`
 * resolves the file holds the highest counter saved. A value saved while an earlier write is in
 * flight must never be forgotten (it would let a restarted agent reuse counters the manager has
 * already seen, and a manager that verifies counters would refuse it).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCounterStore, parseCounterText, nextCounter } from '../../../src/index.js';
import type { MessageCounter } from '../../../src/index.js';
import { mulberry32 } from '../../helpers/prng.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentlink-races-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function onDisk(path: string): Promise<MessageCounter | undefined> {
  return parseCounterText(await readFile(path, 'latin1'));
}

const rng = mulberry32;

describe('FileCounterStore with saves interleaved with writes', () => {
  it('keeps a value saved while the very first write (which reads the file first) is in flight', async () => {
    const path = join(dir, 'sender_counter');
    const store = new FileCounterStore(path, { flushIntervalMs: 0 });
    await store.load(); // no file yet
    const first = store.save({ global: 0, local: 1 });
    await Promise.resolve(); // the first write starts: it reads the file before writing
    await Promise.resolve();
    const second = store.save({ global: 0, local: 2 }); // ...and is still reading it now
    await Promise.all([first, second]);
    await store.flush();
    expect(await onDisk(path)).toEqual({ global: 0, local: 2 });
  });

  it('keeps a value saved during the first write when save() comes before load()', async () => {
    const path = join(dir, 'sender_counter');
    await writeFile(path, '3:10:');
    const store = new FileCounterStore(path, { flushIntervalMs: 0 });
    const a = store.save({ global: 3, local: 11 });
    await Promise.resolve();
    await Promise.resolve();
    const b = store.save({ global: 3, local: 12 });
    await Promise.all([a, b]);
    await store.flush();
    expect(await onDisk(path)).toEqual({ global: 3, local: 12 });
  });

  for (const seed of [1, 2, 3, 4, 5]) {
    it(`holds the highest counter after flush() for a seeded interleaving of saves and I/O (seed ${seed})`, async () => {
      const path = join(dir, `sender_counter_${seed}`);
      const random = rng(seed);
      const store = new FileCounterStore(path, { flushIntervalMs: 0 });
      if (random() < 0.5) await store.load();
      let c: MessageCounter = { global: 0, local: 0 };
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 200; i++) {
        c = nextCounter(c);
        pending.push(store.save(c));
        const r = random();
        if (r < 0.2) await new Promise((resolve) => setImmediate(resolve)); // let some I/O progress
        else if (r < 0.3) await Promise.resolve();
      }
      await Promise.all(pending);
      await store.flush();
      expect(await onDisk(path)).toEqual(c);
    });
  }
});
