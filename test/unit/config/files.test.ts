import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadEnrollmentFiles, parseOssecConf, resolveOptions, ConfigError } from '../../../src/index.js';

const conf = (inner: string): string =>
  `<ossec_config><client><server><address>m1</address></server><enrollment>${inner}</enrollment></client></ossec_config>`;
const all =
  '<agent_name>a1</agent_name><server_ca_path>etc/rootCA.pem</server_ca_path><agent_certificate_path>etc/agent.cert</agent_certificate_path>' +
  '<agent_key_path>etc/agent.key</agent_key_path><authorization_pass_path>etc/authd.pass</authorization_pass_path>';

describe('loadEnrollmentFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'agentlink-config-'));
    await mkdir(join(dir, 'etc'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the CA, certificate, key and the first line of the password file relative to baseDir', async () => {
    await writeFile(join(dir, 'etc/rootCA.pem'), 'CA PEM\n');
    await writeFile(join(dir, 'etc/agent.cert'), 'CERT PEM\n');
    await writeFile(join(dir, 'etc/agent.key'), 'KEY PEM\n');
    await writeFile(join(dir, 'etc/authd.pass'), 'TopSecret\r\nsecond line\n');
    const parsed = parseOssecConf(conf(all));
    const loaded = await loadEnrollmentFiles(parsed, { baseDir: dir });
    expect(loaded.options.enrollment).toEqual({ agentName: 'a1', ca: 'CA PEM\n', cert: 'CERT PEM\n', key: 'KEY PEM\n', password: 'TopSecret' });
    expect(parsed.options.enrollment).toEqual({ agentName: 'a1' });
    expect(resolveOptions(loaded.options).enrollment.password).toBe('TopSecret');
  });

  it('accepts absolute paths', async () => {
    await writeFile(join(dir, 'ca.pem'), 'CA');
    const loaded = await loadEnrollmentFiles(parseOssecConf(conf(`<server_ca_path>${join(dir, 'ca.pem')}</server_ca_path>`)), { baseDir: '/nonexistent' });
    expect(loaded.options.enrollment?.ca).toBe('CA');
  });

  it('only warns when the password file is missing', async () => {
    const loaded = await loadEnrollmentFiles(parseOssecConf(conf('<authorization_pass_path>etc/authd.pass</authorization_pass_path>')), {
      baseDir: dir,
    });
    expect(loaded.options.enrollment?.password).toBeUndefined();
    expect(loaded.warnings.some((w) => w.includes('authorization_pass_path'))).toBe(true);
  });

  it('fails naming the element and path when a certificate file is missing', async () => {
    const err = await loadEnrollmentFiles(parseOssecConf(conf('<agent_key_path>etc/missing.key</agent_key_path>')), { baseDir: dir }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).element).toBe('client/enrollment/agent_key_path');
    expect((err as ConfigError).value).toBe('etc/missing.key');
    expect((err as ConfigError).message).toContain('ENOENT');
  });

  it('refuses a password of 2 characters without showing it', async () => {
    await writeFile(join(dir, 'etc/authd.pass'), 'ab\n');
    const err = await loadEnrollmentFiles(parseOssecConf(conf('<authorization_pass_path>etc/authd.pass</authorization_pass_path>')), {
      baseDir: dir,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).value).toBe('[redacted]');
    expect((err as ConfigError).message).not.toContain("'ab'");
  });

  it('returns the result unchanged apart from a copy when no file is named', async () => {
    const parsed = parseOssecConf(conf('<agent_name>a1</agent_name>'));
    const loaded = await loadEnrollmentFiles(parsed);
    expect(loaded).toEqual(parsed);
    expect(loaded).not.toBe(parsed);
    const bare = parseOssecConf('<ossec_config><client><server><address>m1</address></server></client></ossec_config>');
    expect((await loadEnrollmentFiles(bare)).options).toEqual({ servers: [{ address: 'm1' }] });
  });
});
