/**
 * The files a run writes (`--report`, `--html`): checked before the run starts, so a typo in a
 * directory fails at once rather than after a long run, and written at the end.
 *
 * @module
 */
import { constants } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ToolError } from '../errors.js';

/** A file a run will write: the flag that names it and its absolute path. */
export interface OutputFile {
  /** `--report`, `--html`, ... */
  flag: string;
  /** Absolute path. */
  path: string;
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'error';
}

/**
 * Checks that each output file can be written: its directory exists and is writable, and the path
 * is not a directory nor a file that cannot be overwritten. Nothing is created.
 *
 * @param files - the files.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the flag, the path and what to do.
 */
export async function checkOutputPaths(files: readonly OutputFile[]): Promise<void> {
  for (const { flag, path } of files) {
    const dir = dirname(path);
    const d = await stat(dir).catch((err: unknown) => err as NodeJS.ErrnoException);
    if (d instanceof Error) {
      const why = codeOf(d) === 'ENOENT' ? `the directory ${dir} does not exist; create it first (mkdir -p ${dir})` : `the directory ${dir} cannot be read (${codeOf(d)})`;
      throw new ToolError(`${flag} '${path}': ${why}`, 'ERR_USAGE', { cause: d });
    }
    if (!d.isDirectory()) throw new ToolError(`${flag} '${path}': ${dir} is not a directory`, 'ERR_USAGE');
    const f = await stat(path).catch(() => undefined);
    if (f?.isDirectory()) throw new ToolError(`${flag} '${path}' is a directory; give a file name, e.g. ${flag} ${path.replace(/\/+$/, '')}/out${flag === '--html' ? '.html' : '.json'}`, 'ERR_USAGE');
    try {
      await access(f ? path : dir, constants.W_OK);
    } catch (err) {
      throw new ToolError(`${flag} '${path}': ${f ? 'the file' : `the directory ${dir}`} is not writable (${codeOf(err)})`, 'ERR_USAGE', { cause: err });
    }
  }
}

/**
 * The error for an output file that cannot be opened or written.
 *
 * @param file - flag and path.
 * @param err - the system error.
 * @param code - `ERR_USAGE` (the default) or `ERR_RESOURCE_LIMIT`.
 * @returns a ToolError naming the flag, the path and the system error code.
 */
export function cannotWrite(file: OutputFile, err: unknown, code: 'ERR_USAGE' | 'ERR_RESOURCE_LIMIT' = 'ERR_USAGE'): ToolError {
  return new ToolError(`${file.flag} '${file.path}': cannot write the file (${codeOf(err)})`, code, { cause: err });
}

/** Descriptor limits: the run's sockets may still be closing when the report is written. */
const DESCRIPTOR_LIMITS = new Set(['EMFILE', 'ENFILE']);

/**
 * Writes an output file. When the process is out of file descriptors (`EMFILE`, `ENFILE`: a run
 * at the open-file limit whose last sockets are still closing) it tries again for about three
 * seconds before giving up.
 *
 * @param file - flag and path.
 * @param text - the contents.
 * @throws {@link agentlink!ToolError} `ERR_RESOURCE_LIMIT` when descriptors stay exhausted,
 *   `ERR_USAGE` for any other error, naming the flag and the system error code.
 */
export async function writeOutput(file: OutputFile, text: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file.path, text);
      return;
    } catch (err) {
      const code = codeOf(err);
      if (DESCRIPTOR_LIMITS.has(code) && attempt < 12) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 500)));
        continue;
      }
      throw cannotWrite(file, err, DESCRIPTOR_LIMITS.has(code) ? 'ERR_RESOURCE_LIMIT' : 'ERR_USAGE');
    }
  }
}
