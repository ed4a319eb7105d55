/**
 * The `merged.mg` shared-configuration bundle (protocol.md 4.6): an optional `#<group>\n` line, then
 * per file a header `!<size> <name>\n` followed by exactly `<size>` bytes.
 *
 * @module
 */
import { ConfigError, DecodeError } from '../errors.js';

/** One file inside merged.mg. */
export interface MergedFile {
  /** Relative file name as written in the bundle (sanitise before writing it to disk). */
  name: string;
  /** File content. */
  content: Buffer;
}

/** A parsed merged.mg. */
export interface MergedMg {
  /** Group name from the first line, when present. */
  group?: string;
  /** Files in bundle order. */
  files: MergedFile[];
}

/** Largest content size accepted in a file header (the whole push is far smaller in practice). */
const MAX_ENTRY_SIZE = 0x7fffffff;

/**
 * Builds a merged.mg bundle (`MergeAppendFile`).
 *
 * @param files - names and contents (strings are UTF-8 encoded); names must not contain `\n`.
 * @param group - group name written as the first line `#<group>`.
 * @returns the bundle bytes.
 * @throws {@link ConfigError} `ERR_CONFIG` when a name is empty or contains a newline.
 */
export function buildMergedMg(files: readonly { name: string; content: Buffer | string }[], group?: string): Buffer {
  const parts: Buffer[] = [];
  if (group !== undefined) {
    if (group.includes('\n')) throw new ConfigError('merged.mg group name must not contain a newline', { element: 'group', value: group });
    parts.push(Buffer.from(`#${group}\n`, 'utf8'));
  }
  for (const f of files) {
    if (f.name.length === 0 || f.name.includes('\n')) {
      throw new ConfigError(`merged.mg file name '${f.name}' must be non-empty and have no newline`, { element: 'name', value: f.name });
    }
    const content = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content;
    parts.push(Buffer.from(`!${content.length} ${f.name}\n`, 'utf8'), content);
  }
  return Buffer.concat(parts);
}

/**
 * Parses a merged.mg bundle (`UnmergeFiles`): the group from a first `#` line, then each `!<size> <name>`
 * entry; other lines between entries are skipped, as Wazuh does.
 *
 * @param data - the bundle bytes.
 * @returns the group and files (contents are views into `data`).
 * @throws {@link DecodeError} `ERR_DECODE_MESSAGE` for a bad entry header or a truncated entry.
 */
export function parseMergedMg(data: Buffer): MergedMg {
  const out: MergedMg = { files: [] };
  const n = data.length;
  let off = 0;
  if (n > 0 && data[0] === 0x23 /* # */) {
    const nl = data.indexOf(0x0a);
    const end = nl < 0 ? n : nl;
    out.group = data.toString('utf8', 1, end);
    off = nl < 0 ? n : nl + 1;
  }
  while (off < n) {
    const nl = data.indexOf(0x0a, off);
    const lineEnd = nl < 0 ? n : nl;
    if (data[off] !== 0x21 /* ! */) {
      off = lineEnd + 1;
      continue;
    }
    const line = data.toString('utf8', off + 1, lineEnd);
    const sp = line.indexOf(' ');
    const sizeText = sp < 0 ? line : line.slice(0, sp);
    if (sp <= 0 || !/^[0-9]{1,10}$/.test(sizeText)) {
      throw new DecodeError(`merged.mg entry header at offset ${off} is not '!<size> <name>'`, 'ERR_DECODE_MESSAGE');
    }
    const size = Number(sizeText);
    const name = line.slice(sp + 1);
    if (name.length === 0 || size > MAX_ENTRY_SIZE) {
      throw new DecodeError(`merged.mg entry header at offset ${off} has an empty name or an impossible size`, 'ERR_DECODE_MESSAGE');
    }
    if (nl < 0) {
      if (size === 0) {
        out.files.push({ name, content: data.subarray(n, n) });
        break;
      }
      throw new DecodeError(`merged.mg entry '${name}' at offset ${off} is truncated (no content)`, 'ERR_DECODE_MESSAGE');
    }
    const start = nl + 1;
    if (start + size > n) {
      throw new DecodeError(
        `merged.mg entry '${name}' announces ${size} bytes but only ${n - start} remain`,
        'ERR_DECODE_MESSAGE',
      );
    }
    out.files.push({ name, content: data.subarray(start, start + size) });
    off = start + size;
  }
  return out;
}

/**
 * Makes a pushed file name safe as the agent does on `#!-up file` (protocol.md 4.6): refuses `..`,
 * replaces every `/` (and `\`) with `-` and a leading `.` with `-`.
 *
 * @param name - the name from the manager.
 * @returns a single path component.
 * @throws {@link DecodeError} `ERR_DECODE_MESSAGE` when the name is empty, contains `..` or a NUL byte.
 */
export function sanitizeSharedFileName(name: string): string {
  if (name.length === 0) throw new DecodeError('Shared file name is empty', 'ERR_DECODE_MESSAGE');
  if (name.includes('..')) throw new DecodeError(`Shared file name '${name}' contains '..'`, 'ERR_DECODE_MESSAGE');
  if (name.includes('\0')) throw new DecodeError('Shared file name contains a NUL byte', 'ERR_DECODE_MESSAGE');
  let out = name.replace(/[/\\]/g, '-');
  if (out.startsWith('.')) out = `-${out.slice(1)}`;
  return out;
}
