/**
 * Reads the enrollment files an ossec.conf names (CA, client certificate and key, password file).
 * Kept apart from {@link parseOssecConf} so the parser stays pure.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import type { OssecConfResult, OssecEnrollmentFiles } from './ossec-conf.js';
import { REDACTED } from './validate.js';

/** Options of {@link loadEnrollmentFiles}. */
export interface LoadEnrollmentFilesOptions {
  /**
   * Directory that relative paths are resolved against: the Wazuh installation directory, since the
   * agent runs there (`etc/authd.pass` means `/var/ossec/etc/authd.pass`).
   * @default process.cwd()
   */
  baseDir?: string;
}

const FILE_ELEMENTS: Record<keyof OssecEnrollmentFiles, string> = {
  serverCaPath: 'client/enrollment/server_ca_path',
  agentCertificatePath: 'client/enrollment/agent_certificate_path',
  agentKeyPath: 'client/enrollment/agent_key_path',
  authorizationPassPath: 'client/enrollment/authorization_pass_path',
};

/**
 * Reads the files named by `<server_ca_path>`, `<agent_certificate_path>`, `<agent_key_path>` and
 * `<authorization_pass_path>` and returns a copy of the result with `options.enrollment` `ca`, `cert`,
 * `key` and `password` filled (the password is the file's first line, without its line ending).
 * A missing password file only adds a warning (enrollment then sends no password, as Wazuh does);
 * any other file that cannot be read is an error. File contents are never put in errors or warnings.
 *
 * @example
 * ```ts
 * const conf = await loadEnrollmentFiles(parseOssecConf(xml), { baseDir: '/var/ossec' });
 * const client = new AgentClient({ ...conf.options });
 * ```
 *
 * @param result - what {@link parseOssecConf} returned (not modified).
 * @param options - where relative paths start.
 * @returns a new result with the file contents in `options.enrollment`.
 * @throws {@link ConfigError} naming the element and the path when a file cannot be read, or when the
 *   password is 2 characters or shorter.
 */
export async function loadEnrollmentFiles(result: OssecConfResult, options: LoadEnrollmentFilesOptions = {}): Promise<OssecConfResult> {
  const baseDir = options.baseDir ?? process.cwd();
  const files = result.enrollment;
  const warnings = [...result.warnings];
  const enrollment = { ...result.options.enrollment };

  const read = async (field: keyof OssecEnrollmentFiles): Promise<string | undefined> => {
    const path = files[field];
    return path === undefined ? undefined : readConfigFile(path, { baseDir, element: FILE_ELEMENTS[field] });
  };
  const readPassword = async (): Promise<string | undefined> => {
    const path = files.authorizationPassPath;
    if (path === undefined) return undefined;
    try {
      return await readPasswordFile(path, { baseDir, element: FILE_ELEMENTS.authorizationPassPath });
    } catch (err) {
      if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') throw err;
      warnings.push(`${FILE_ELEMENTS.authorizationPassPath}: '${resolve(baseDir, path)}' does not exist: enrolling without a password`);
      return undefined;
    }
  };

  const [ca, cert, key, password] = await Promise.all([read('serverCaPath'), read('agentCertificatePath'), read('agentKeyPath'), readPassword()]);
  if (ca !== undefined) enrollment.ca = ca;
  if (cert !== undefined) enrollment.cert = cert;
  if (key !== undefined) enrollment.key = key;
  if (password !== undefined) enrollment.password = password;
  const out = { ...result.options };
  if (result.options.enrollment !== undefined || Object.keys(enrollment).length > 0) out.enrollment = enrollment;
  return { ...result, warnings, options: out };
}

/** Options of {@link readPasswordFile} (and of the ossec.conf reader): where relative paths start and what named the file. */
export interface ReadConfigFileOptions {
  /**
   * Directory that a relative path is resolved against.
   * @default process.cwd()
   */
  baseDir?: string | undefined;
  /** The element or flag that named the file (`client/enrollment/server_ca_path`, `--ca`), for errors. */
  element: string;
}

/**
 * Reads a file that a configuration element or a command-line flag names (a CA, a certificate, a
 * key), as UTF-8 text. Its content never appears in errors.
 *
 * @param path - the path, relative to `options.baseDir`.
 * @param options - where relative paths start and what named the file.
 * @returns the file content.
 * @throws {@link ConfigError} `ERR_CONFIG` naming the element and the full path, with the system error
 *   (`ENOENT`, `EACCES`, ...) as `cause`, when the file cannot be read.
 */
export async function readConfigFile(path: string, options: ReadConfigFileOptions): Promise<string> {
  const full = resolve(options.baseDir ?? process.cwd(), path);
  try {
    return await readFile(full, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${options.element}: cannot read '${full}'${code ? ` (${code})` : ''}`, { element: options.element, value: path, cause: err });
  }
}

/**
 * Reads an authd password file (`authd.pass`, `<authorization_pass_path>`, `--password-file`): the
 * password is the first line, without its line ending, and must be longer than 2 characters, as
 * authd requires. The password never appears in errors.
 *
 * @param path - the path, relative to `options.baseDir`.
 * @param options - where relative paths start and what named the file.
 * @returns the password.
 * @throws {@link ConfigError} `ERR_CONFIG` naming the element when the file cannot be read (the system
 *   error is the `cause`) or the password is 2 characters or shorter.
 */
export async function readPasswordFile(path: string, options: ReadConfigFileOptions): Promise<string> {
  const text = await readConfigFile(path, options);
  const password = (text.split('\n', 1)[0] ?? '').replace(/\r$/, '');
  if (password.length <= 2) {
    throw new ConfigError(`${options.element}: the password (first line of '${path}') must be longer than 2 characters`, {
      element: options.element,
      value: REDACTED,
    });
  }
  return password;
}
