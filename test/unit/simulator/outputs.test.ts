/**
 * Writing a run's report at the open-file limit: the last sockets of the run may still be closing,
 * so EMFILE/ENFILE are tried again for a while, then reported as a resource limit (not as a usage error).
 */
import { describe, expect, it, vi } from 'vitest';

const writes = vi.hoisted(() => ({ failures: 0, code: 'EMFILE', calls: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    writeFile: async () => {
      writes.calls++;
      if (writes.calls <= writes.failures) throw Object.assign(new Error(`${writes.code}: too many open files`), { code: writes.code });
    },
  };
});
const { writeOutput } = await import('../../../src/simulator/outputs.js');

describe('writeOutput', () => {
  it('tries again while the process is out of descriptors and succeeds once one is free', async () => {
    Object.assign(writes, { failures: 3, code: 'EMFILE', calls: 0 });
    await writeOutput({ flag: '--report', path: '/tmp/r.json' }, '{}');
    expect(writes.calls).toBe(4);
  });

  it('gives up after about three seconds with ERR_RESOURCE_LIMIT naming the flag and the code', async () => {
    Object.assign(writes, { failures: Infinity, code: 'ENFILE', calls: 0 });
    vi.useFakeTimers();
    try {
      const p = writeOutput({ flag: '--html', path: '/tmp/r.html' }, '<html>');
      const seen = expect(p).rejects.toMatchObject({ code: 'ERR_RESOURCE_LIMIT', message: "--html '/tmp/r.html': cannot write the file (ENFILE)" });
      await vi.advanceTimersByTimeAsync(10_000);
      await seen;
      expect(writes.calls).toBe(13);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports any other error at once as a usage error', async () => {
    Object.assign(writes, { failures: 1, code: 'EACCES', calls: 0 });
    await expect(writeOutput({ flag: '--report', path: '/tmp/r.json' }, '{}')).rejects.toMatchObject({ code: 'ERR_USAGE' });
    expect(writes.calls).toBe(1);
  });
});
