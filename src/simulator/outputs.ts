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
 * Writes an output file.
 *
 * @param file - flag and path.
 * @param text - the contents.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` naming the flag and the system error code.
 */
export async function writeOutput(file: OutputFile, text: string): Promise<void> {
  try {
    await writeFile(file.path, text);
  } catch (err) {
    throw new ToolError(`${file.flag} '${file.path}': cannot write the file (${codeOf(err)})`, 'ERR_USAGE', { cause: err });
  }
}
