import { describe, expect, it, vi } from 'vitest';
import { onAbort } from '../../../src/agent/wait.js';

describe('onAbort', () => {
  it('returns one shared remover for no signal, and never calls fn', async () => {
    const fn = vi.fn();
    const off = onAbort(undefined, fn);
    expect(onAbort(undefined, () => {})).toBe(off);
    off();
    await Promise.resolve();
    expect(fn).not.toHaveBeenCalled();
  });

  it('calls fn once on abort, and not after the remover ran', () => {
    const a = new AbortController();
    const fn = vi.fn();
    onAbort(a.signal, fn);
    a.abort();
    a.abort();
    expect(fn).toHaveBeenCalledTimes(1);
    const b = new AbortController();
    const gone = vi.fn();
    onAbort(b.signal, gone)();
    b.abort();
    expect(gone).not.toHaveBeenCalled();
  });

  it('calls fn in a microtask for an already aborted signal, unless removed first', async () => {
    const fn = vi.fn();
    onAbort(AbortSignal.abort(), fn);
    expect(fn).not.toHaveBeenCalled();
    await Promise.resolve();
    expect(fn).toHaveBeenCalledTimes(1);
    const gone = vi.fn();
    onAbort(AbortSignal.abort(), gone)();
    await Promise.resolve();
    expect(gone).not.toHaveBeenCalled();
  });
});
