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
    if (path === undefined) return undefined;
    const full = resolve(baseDir, path);
    try {
      return await readFile(full, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (field === 'authorizationPassPath' && code === 'ENOENT') {
        warnings.push(`${FILE_ELEMENTS[field]}: '${full}' does not exist: enrolling without a password`);
        return undefined;
      }
      throw new ConfigError(`${FILE_ELEMENTS[field]}: cannot read '${full}'${code ? ` (${code})` : ''}`, {
        element: FILE_ELEMENTS[field],
        value: path,
        cause: err,
      });
    }
  };

  const [ca, cert, key, pass] = await Promise.all([
    read('serverCaPath'),
    read('agentCertificatePath'),
    read('agentKeyPath'),
    read('authorizationPassPath'),
  ]);
  if (ca !== undefined) enrollment.ca = ca;
  if (cert !== undefined) enrollment.cert = cert;
  if (key !== undefined) enrollment.key = key;
  if (pass !== undefined) {
    const password = (pass.split('\n', 1)[0] ?? '').replace(/\r$/, '');
    if (password.length <= 2) {
      throw new ConfigError(`${FILE_ELEMENTS.authorizationPassPath}: the password (first line of the file) must be longer than 2 characters`, {
        element: FILE_ELEMENTS.authorizationPassPath,
        value: REDACTED,
      });
    }
    enrollment.password = password;
  }
  const out = { ...result.options };
  if (result.options.enrollment !== undefined || Object.keys(enrollment).length > 0) out.enrollment = enrollment;
  return { ...result, warnings, options: out };
}
