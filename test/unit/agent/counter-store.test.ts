import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CounterStoreError } from '../../../src/index.js';
import {
  FileCounterStore,
  MemoryCounterStore,
  compareCounters,
  formatCounterText,
  parseCounterText,
} from '../../../src/index.js';

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'agentlink-counter-'));
  file = join(dir, 'sender_counter');
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

describe('counter helpers', () => {
  it('orders counters by global then local', () => {
    expect(compareCounters({ global: 1, local: 9997 }, { global: 2, local: 1 })).toBeLessThan(0);
    expect(compareCounters({ global: 2, local: 5 }, { global: 2, local: 4 })).toBeGreaterThan(0);
    expect(compareCounters({ global: 3, local: 3 }, { global: 3, local: 3 })).toBe(0);
  });

  it('formats and parses the Wazuh sender_counter text', () => {
    expect(formatCounterText({ global: 12, local: 345 })).toBe('12:345:');
    expect(parseCounterText('0:1:')).toEqual({ global: 0, local: 1 });
    expect(parseCounterText('17:9997:\n')).toEqual({ global: 17, local: 9997 });
    for (const bad of ['', '1:2', ':1:', 'a:b:', '1:2:3:', '-1:2:', '4294967296:1:', '1:10000:', '1:2: x']) {
      expect(parseCounterText(bad)).toBeUndefined();
    }
  });
});

describe('MemoryCounterStore', () => {
  it('starts at 0:0 and never goes backwards', async () => {
    const store = new MemoryCounterStore();
    await expect(store.load()).resolves.toEqual({ global: 0, local: 0 });
    await store.save({ global: 2, local: 10 });
    await store.save({ global: 1, local: 9000 });
    await expect(store.load()).resolves.toEqual({ global: 2, local: 10 });
  });

  it('rejects a counter that is not two integers in range with ERR_COUNTER_STORE', async () => {
    const store = new MemoryCounterStore();
    await expect(store.save({ global: -1, local: 0 })).rejects.toMatchObject({ code: 'ERR_COUNTER_STORE' });
    await expect(store.save({ global: 1.5, local: 0 })).rejects.toBeInstanceOf(CounterStoreError);
  });
});

describe('FileCounterStore', () => {
  it('loads 0:0 when the file does not exist', async () => {
    await expect(new FileCounterStore(file).load()).resolves.toEqual({ global: 0, local: 0 });
  });

  it('writes "<global>:<local>:" and reads it back', async () => {
    const store = new FileCounterStore(file, { flushIntervalMs: 0 });
    await store.save({ global: 12, local: 345 });
    expect(await readFile(file, 'utf8')).toBe('12:345:');
    await expect(new FileCounterStore(file).load()).resolves.toEqual({ global: 12, local: 345 });
  });

  it('reads a file written by a Wazuh agent', async () => {
    await writeFile(file, '3:9997:');
    await expect(new FileCounterStore(file).load()).resolves.toEqual({ global: 3, local: 9997 });
  });

  it('leaves no temporary file behind after writes', async () => {
    const store = new FileCounterStore(file, { flushIntervalMs: 0, fsync: true });
    for (let k = 1; k <= 20; k++) await store.save({ global: 0, local: k });
    expect(await readdir(dir)).toEqual(['sender_counter']);
    expect(await readFile(file, 'utf8')).toBe('0:20:');
  });

  it('reports a failed write with the path, removes its temporary file and keeps the old file', async () => {
    const target = join(dir, 'is-a-dir');
    await mkdir(target);
    const store = new FileCounterStore(target, { flushIntervalMs: 0 });
    const err = await store.save({ global: 1, local: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CounterStoreError);
    expect((err as CounterStoreError).path).toBe(target);
    expect((await readdir(dir)).sort()).toEqual(['is-a-dir']);
  });

  it('rejects a corrupt file with ERR_COUNTER_STORE naming the path and the content', async () => {
    await writeFile(file, 'garbage!');
    const err = await new FileCounterStore(file).load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CounterStoreError);
    expect((err as CounterStoreError).code).toBe('ERR_COUNTER_STORE');
    expect((err as CounterStoreError).message).toContain(file);
    expect((err as CounterStoreError).message).toContain('garbage!');
    expect(await readFile(file, 'utf8')).toBe('garbage!');
  });

  it('never persists a value lower than the last one', async () => {
    const store = new FileCounterStore(file, { flushIntervalMs: 0 });
    await store.save({ global: 5, local: 5 });
    await store.save({ global: 5, local: 4 });
    await store.save({ global: 4, local: 9000 });
    expect(await readFile(file, 'utf8')).toBe('5:5:');
  });

  it('does not overwrite a newer value on disk when saving before load()', async () => {
    await writeFile(file, '100:1:');
    const store = new FileCounterStore(file, { flushIntervalMs: 0 });
    await store.save({ global: 1, local: 1 });
    expect(await readFile(file, 'utf8')).toBe('100:1:');
    await store.save({ global: 100, local: 2 });
    expect(await readFile(file, 'utf8')).toBe('100:2:');
  });

  it('ignores saves below the loaded value', async () => {
    await writeFile(file, '9:9:');
    const store = new FileCounterStore(file, { flushIntervalMs: 0 });
    await store.load();
    await store.save({ global: 0, local: 1 });
    expect(await readFile(file, 'utf8')).toBe('9:9:');
  });

  it('coalesces saves into one write per flushIntervalMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = new FileCounterStore(file, { flushIntervalMs: 1000 });
    for (let k = 1; k <= 100; k++) await store.save({ global: 1, local: k });
    expect(vi.getTimerCount()).toBe(1);
    await expect(readFile(file, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    vi.advanceTimersByTime(999);
    await expect(readFile(file, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    vi.advanceTimersByTime(1);
    expect(vi.getTimerCount()).toBe(0);
    // the timer started the write on its own: wait for the real I/O without calling flush()
    let text: string | undefined;
    for (let k = 0; k < 500 && text === undefined; k++) {
      await new Promise((resolve) => setImmediate(resolve));
      text = await readFile(file, 'utf8').catch(() => undefined);
    }
    expect(text).toBe('1:100:');
    expect(await readdir(dir)).toEqual(['sender_counter']);
  });

  it('writes pending values at flush() and leaves no timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = new FileCounterStore(file);
    await store.save({ global: 2, local: 7 });
    expect(vi.getTimerCount()).toBe(1);
    await store.flush();
    expect(vi.getTimerCount()).toBe(0);
    expect(await readFile(file, 'utf8')).toBe('2:7:');
  });

  it('recovers from a corrupt file with skip-ahead from the backup plus the margin, and writes it back', async () => {
    const store = new FileCounterStore(file, { flushIntervalMs: 0, onCorrupt: 'skip-ahead', skipAheadMargin: 100 });
    await store.save({ global: 5, local: 10 });
    expect(await readFile(`${file}.bak`, 'utf8')).toBe('5:10:');
    await writeFile(file, '5:1');
    const recovered = await new FileCounterStore(file, { onCorrupt: 'skip-ahead', skipAheadMargin: 100 }).load();
    expect(recovered).toEqual({ global: 105, local: 0 });
    expect(await readFile(file, 'utf8')).toBe('105:0:');
  });

  it('still rejects a corrupt file under skip-ahead when there is no valid backup', async () => {
    await writeFile(file, 'x');
    await expect(new FileCounterStore(file, { onCorrupt: 'skip-ahead' }).load()).rejects.toThrow(/no valid backup/);
  });

  it('skips ahead on every load with skipAheadOnLoad, so a crash inside the coalescing window cannot reuse counters', async () => {
    await writeFile(file, '7:20:');
    const first = await new FileCounterStore(file, { skipAheadOnLoad: 1 }).load();
    expect(first).toEqual({ global: 8, local: 0 });
    expect(await readFile(file, 'utf8')).toBe('8:0:');
    await expect(new FileCounterStore(file, { skipAheadOnLoad: 1 }).load()).resolves.toEqual({ global: 9, local: 0 });
  });

  it('rejects an invalid counter on save', async () => {
    const store = new FileCounterStore(file, { flushIntervalMs: 0 });
    await expect(store.save({ global: 1, local: 10_000 })).rejects.toBeInstanceOf(CounterStoreError);
    await expect(readFile(file, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
