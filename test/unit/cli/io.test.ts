import { afterEach, describe, expect, test, vi } from 'vitest';
import { createProcessIo } from '../../../src/cli/io.js';
import { AbortError } from '../../../src/index.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createProcessIo', () => {
  test('the first SIGINT aborts the signal, the second exits with 130, and dispose removes the handlers', () => {
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const exit = vi.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    const { io, dispose } = createProcessIo();
    try {
      expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
      expect(io.signal?.aborted).toBe(false);
      process.emit('SIGINT', 'SIGINT');
      expect(io.signal?.aborted).toBe(true);
      expect(io.signal?.reason).toBeInstanceOf(AbortError);
      expect(exit).not.toHaveBeenCalled();
      expect(String(stderr.mock.calls[0]?.[0])).toContain('SIGINT received, stopping');
      process.emit('SIGINT', 'SIGINT');
      expect(exit).toHaveBeenCalledWith(130);
    } finally {
      dispose();
    }
    expect(process.listenerCount('SIGINT')).toBe(before.int);
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
  });

  test('SIGTERM aborts the signal too', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const { io, dispose } = createProcessIo();
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(io.signal?.aborted).toBe(true);
    } finally {
      dispose();
    }
  });
});
