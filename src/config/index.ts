/**
 * Configuration: option types, exported defaults, `resolveOptions()`, and the ossec.conf parser.
 *
 * @module
 */
export * from './options.js';
export { resolveOptions } from './resolve.js';
export { parseWazuhTime, parseDuration } from './time.js';
export { hostUname, defaultAgentName, parseOsRelease, type OsRelease } from './host.js';
export {
  parseOssecConf,
  type OssecConfOptions,
  type OssecConfResult,
  type OssecEnrollmentFiles,
  type OssecEnrollmentSettings,
} from './ossec-conf.js';
export { loadEnrollmentFiles, readPasswordFile, type LoadEnrollmentFilesOptions, type ReadConfigFileOptions } from './files.js';
