import { describe, expect, it } from 'vitest';
import type { ResolvedServer } from '../../../src/index.js';
import { ConfigError } from '../../../src/index.js';
import { ServerPool } from '../../../src/agent/server-pool.js';

const server = (address: string): ResolvedServer => ({ address, port: 1514, protocol: 'tcp', maxRetries: 5, retryInterval: 10_000 });
const three = [server('a'), server('b'), server('c')];

describe('ServerPool', () => {
  it('refuses an empty server list with ERR_CONFIG', () => {
    expect(() => new ServerPool([])).toThrow(ConfigError);
    try {
      new ServerPool([]);
    } catch (err) {
      expect((err as ConfigError).code).toBe('ERR_CONFIG');
      expect((err as ConfigError).element).toBe('servers');
    }
  });

  it('starts on the first server and walks the list cyclically with next()', () => {
    const pool = new ServerPool(three);
    expect(pool.size).toBe(3);
    expect(pool.index).toBe(0);
    expect(pool.current.address).toBe('a');
    const seen = [1, 2, 3, 4, 5, 6, 7].map(() => pool.next().address);
    expect(seen).toEqual(['b', 'c', 'a', 'b', 'c', 'a', 'b']);
    expect(pool.index).toBe(1);
  });

  it('wraps select() modulo the size, negative indexes counting from the end', () => {
    const pool = new ServerPool(three);
    expect(pool.select(4).address).toBe('b');
    expect(pool.select(-1).address).toBe('c');
    expect(pool.select(3).address).toBe('a');
    expect(pool.select(Number.NaN).address).toBe('a');
  });

  it('keeps a copy of the list so later changes to the caller array do not leak in', () => {
    const list = [server('a'), server('b')];
    const pool = new ServerPool(list);
    list.push(server('c'));
    expect(pool.size).toBe(2);
    expect(Object.isFrozen(pool.servers)).toBe(true);
  });

  it('shares a frozen list instead of copying it (resolved options share one between clients)', () => {
    const list = Object.freeze([server('a'), server('b')]);
    const a = new ServerPool(list);
    const b = new ServerPool(list);
    expect(a.servers).toBe(list);
    b.select(1);
    b.recordSuccess(1, 5);
    expect([a.index, b.index]).toEqual([0, 1]);
    expect(a.stats(1).connects).toBe(0);
  });

  it('counts attempts, failures and connects per server and moves the cursor on success only', () => {
    const pool = new ServerPool(three);
    pool.recordAttempt(0, 100);
    pool.recordFailure(0, new Error('refused'), 101);
    pool.recordAttempt(1, 200);
    pool.recordFailure(1, undefined, 201);
    expect(pool.index).toBe(0);
    pool.recordAttempt(2, 300);
    pool.recordSuccess(2, 305);
    expect(pool.index).toBe(2);
    expect(pool.current.address).toBe('c');

    expect(pool.stats(0)).toEqual({ attempts: 1, failures: 1, connects: 0, lastAttemptAt: 100, lastSuccessAt: undefined, lastError: 'refused' });
    expect(pool.stats(1)).toMatchObject({ attempts: 1, failures: 1, lastError: undefined });
    expect(pool.stats(2)).toEqual({ attempts: 1, failures: 0, connects: 1, lastAttemptAt: 300, lastSuccessAt: 305, lastError: undefined });
  });

  it('clears the last error of a server when it connects again', () => {
    const pool = new ServerPool(three);
    pool.recordFailure(1, new Error('timeout'), 1);
    pool.recordSuccess(1, 2);
    expect(pool.stats(1).lastError).toBeUndefined();
  });

  it('returns snapshots that are copies and do not change with later records', () => {
    const pool = new ServerPool(three);
    pool.recordAttempt(1, 10);
    const snap = pool.snapshot();
    pool.recordAttempt(1, 20);
    pool.recordSuccess(1, 21);
    expect(snap.index).toBe(0);
    expect(snap.servers).toHaveLength(3);
    expect(snap.servers[1]).toMatchObject({ address: 'b', port: 1514, attempts: 1, connects: 0, lastAttemptAt: 10 });
    expect(pool.snapshot().servers[1]).toMatchObject({ attempts: 2, connects: 1 });
    const stats = pool.stats(1);
    stats.attempts = 99;
    expect(pool.stats(1).attempts).toBe(2);
  });
});
