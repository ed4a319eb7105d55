/**
 * System limits a fleet can run into (open files, ephemeral ports, socket buffers), recognised in
 * socket errors, with what to change.
 *
 * @module
 */

/** A system limit recognised in an error, from {@link resourceLimitOf}. */
export interface ResourceLimit {
  /** Which limit: `open-files`, `ephemeral-ports`, `socket-buffers`. */
  limit: string;
  /** What it means and what to change. */
  message: string;
  /** The socket error code (`EMFILE`, …). */
  code: string;
}

/** The system limits the fleet recognises, by socket error code. */
const LIMIT_CODES: Record<string, { limit: string; message: string }> = {
  EMFILE: {
    limit: 'open-files',
    message: 'the per-process open-file limit (ulimit -n) was reached: raise it, use --workers N, or run fewer agents per process',
  },
  ENFILE: { limit: 'open-files', message: 'the system-wide open-file limit (fs.file-max) was reached: raise it or run fewer agents' },
  EADDRNOTAVAIL: {
    limit: 'ephemeral-ports',
    message: 'no free ephemeral port on the source address (about 28 000 per address): use --source-ips N to spread over 127.0.0.0/8',
  },
  EADDRINUSE: {
    limit: 'ephemeral-ports',
    message: 'no free ephemeral port on the source address (about 28 000 per address): use --source-ips N to spread over 127.0.0.0/8',
  },
  ENOBUFS: { limit: 'socket-buffers', message: 'the kernel ran out of socket buffer memory: run fewer agents per machine' },
};

/**
 * The system limit behind an error, if any: walks the `cause` chain for a socket error code
 * (`EMFILE`, `ENFILE`, `EADDRNOTAVAIL`, `EADDRINUSE`, `ENOBUFS`).
 *
 * @param err - an error from an agent or a socket.
 * @returns the limit name and what to change, or undefined.
 */
export function resourceLimitOf(err: unknown): ResourceLimit | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== undefined && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && LIMIT_CODES[code]) return { ...LIMIT_CODES[code], code };
    const text = e instanceof Error ? e.message : '';
    for (const c of Object.keys(LIMIT_CODES)) if (text.includes(`(${c})`) || text.includes(` ${c} `) || text.endsWith(c)) return { ...LIMIT_CODES[c]!, code: c };
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
