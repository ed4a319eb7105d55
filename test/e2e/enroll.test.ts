/**
 * `agentlink enroll`, run as a user runs it (the built binary, a child process) against a
 * MockAuthd on 127.0.0.1: the printed or written client.keys line is the key authd stored; authd's
 * refusals, a certificate that does not verify and a closed port are the SDK's enrollment errors,
 * with their codes and exit code 1.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseClientKeys } from 'agentlink';
import { KeyStore, MockAuthd, TEST_CA_CERT, TEST_CLIENT_CERT, TEST_CLIENT_KEY } from 'agentlink/testing';
import type { MockAuthdOptions } from 'agentlink/testing';
import { UNTRUSTED_CA_CERT, UNTRUSTED_SERVER_CERT, UNTRUSTED_SERVER_KEY } from '../fixtures/certs/untrusted.js';
import { runCli } from '../helpers/cli.js';
import type { CliRun } from '../helpers/cli.js';
import { startTcpServer } from '../integration/enrollment/helpers.js';

function agentlink(args: string[], cwd: string): Promise<CliRun> {
  return runCli(args, { cwd, timeout: 20_000 });
}

async function workdir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agentlink-enroll-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'authd.pass'), 'TopSecret\n');
  await writeFile(join(dir, 'wrong.pass'), 'NotTheOne\n');
  await writeFile(join(dir, 'ca.pem'), TEST_CA_CERT);
  await writeFile(join(dir, 'other-ca.pem'), UNTRUSTED_CA_CERT);
  await writeFile(join(dir, 'agent.pem'), TEST_CLIENT_CERT);
  await writeFile(join(dir, 'agent.key'), TEST_CLIENT_KEY);
  return dir;
}

async function authd(options: Partial<MockAuthdOptions> = {}): Promise<{ authd: MockAuthd; keyStore: KeyStore; port: number }> {
  const keyStore = new KeyStore();
  const server = new MockAuthd({ password: 'TopSecret', groups: ['default', 'linux', 'web'], ...options, keyStore });
  onTestFinished(() => server.close());
  const { port } = await server.start();
  return { authd: server, keyStore, port };
}

describe('agentlink enroll', () => {
  it('with the right password, groups and agent address, prints the client.keys line authd stored', async () => {
    const dir = await workdir();
    const { authd: server, keyStore, port } = await authd();
    const enrolled: { id: string; groups: readonly string[] }[] = [];
    server.on('enrolled', (k, { groups }) => enrolled.push({ id: k.id, groups }));
    const r = await agentlink(
      ['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-01', '--password-file', 'authd.pass', '--groups', 'linux,web', '--agent-address', '10.0.0.7'],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    const [key] = parseClientKeys(r.stdout);
    expect(key).toEqual({ id: '001', name: 'web-01', ip: '10.0.0.7', key: keyStore.get('001')!.key });
    expect(enrolled).toEqual([{ id: '001', groups: ['linux', 'web'] }]);
    expect(r.stderr).toBe(`agentlink enroll: enrolled as agent 001 (web-01) with authd at 127.0.0.1:${port}\n`);
  });

  it('writes the line to -o FILE with mode 0640, and keeps an existing file unless --force', async () => {
    const dir = await workdir();
    const { keyStore, port } = await authd();
    const args = ['enroll', '--manager', `127.0.0.1:${port}`, '--password-file', 'authd.pass', '-o', 'client.keys'];
    const first = await agentlink([...args, '--name', 'db-01'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe('');
    const text = await readFile(join(dir, 'client.keys'), 'latin1');
    expect(parseClientKeys(text)).toEqual([keyStore.get('001')]);
    expect((await stat(join(dir, 'client.keys'))).mode & 0o777).toBe(0o640);
    expect(first.stderr).not.toContain(keyStore.get('001')!.key);

    const again = await agentlink([...args, '--name', 'db-02'], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toBe('agentlink enroll: client.keys already exists; add --force to overwrite it or choose another -o file\n');
    expect(await readFile(join(dir, 'client.keys'), 'latin1')).toBe(text);
    const forced = await agentlink([...args, '--name', 'db-03', '--force'], dir);
    expect(forced.code, forced.stderr).toBe(0);
    expect(parseClientKeys(await readFile(join(dir, 'client.keys'), 'latin1'))[0]!.name).toBe('db-03');
  });

  it('a wrong password is authd refusing: ERR_ENROLLMENT_REJECTED with its reason, exit code 1, no key', async () => {
    const dir = await workdir();
    const { keyStore, port } = await authd();
    const r = await agentlink(['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-01', '--password-file', 'wrong.pass'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('agentlink enroll: Invalid password (from manager) (ERR_ENROLLMENT_REJECTED)\n');
    expect(r.stderr).not.toContain('NotTheOne');
    expect(keyStore.size).toBe(0);
  });

  it('an unknown group is refused by authd with ERR_ENROLLMENT_REJECTED', async () => {
    const dir = await workdir();
    const { port } = await authd();
    const r = await agentlink(['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-01', '--password-file', 'authd.pass', '--groups', 'nosuch'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^agentlink enroll: .*nosuch.* \(from manager\) \(ERR_ENROLLMENT_REJECTED\)\n$/);
  });

  it('--ca verifies the manager: its CA and name pass; another CA or another name is ERR_ENROLLMENT_CONNECTION', async () => {
    const dir = await workdir();
    const { port } = await authd();
    const ok = await agentlink(['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-01', '--password-file', 'authd.pass', '--ca', 'ca.pem'], dir);
    expect(ok.code, ok.stderr).toBe(0);

    const otherCa = await agentlink(['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-02', '--password-file', 'authd.pass', '--ca', 'other-ca.pem'], dir);
    expect(otherCa.code).toBe(1);
    expect(otherCa.stderr).toMatch(/^agentlink enroll: Enrollment connection to \[127\.0\.0\.1\]:\d+ failed: .*certificate.* \(ERR_ENROLLMENT_CONNECTION\)\n$/);

    // the same certificate served on an address it does not name
    const far = await authd({ host: '127.0.0.2' });
    const wrongName = await agentlink(['enroll', '--manager', `127.0.0.2:${far.port}`, '--name', 'web-03', '--password-file', 'authd.pass', '--ca', 'ca.pem'], dir);
    expect(wrongName.code).toBe(1);
    expect(wrongName.stderr).toMatch(/does not match certificate's altnames.* \(ERR_ENROLLMENT_CONNECTION\)\n$/);
    expect(far.keyStore.size).toBe(0);
  });

  it('without --ca the certificate is not verified, as Wazuh agents do', async () => {
    const dir = await workdir();
    const { port } = await authd({ cert: UNTRUSTED_SERVER_CERT, key: UNTRUSTED_SERVER_KEY });
    const r = await agentlink(['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-01', '--password-file', 'authd.pass'], dir);
    expect(r.code, r.stderr).toBe(0);
  });

  it('presents --cert/--key to an authd that verifies agents', async () => {
    const dir = await workdir();
    const { keyStore, port } = await authd({ ca: TEST_CA_CERT });
    const without = await agentlink(['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-01', '--password-file', 'authd.pass'], dir);
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/\(ERR_ENROLLMENT_CONNECTION\)\n$/);
    const withCert = await agentlink(
      ['enroll', '--manager', `127.0.0.1:${port}`, '--name', 'web-01', '--password-file', 'authd.pass', '--cert', 'agent.pem', '--key', 'agent.key'],
      dir,
    );
    expect(withCert.code, withCert.stderr).toBe(0);
    expect(keyStore.size).toBe(1);
  });

  it('a port where nothing listens is ERR_ENROLLMENT_CONNECTION; one that never answers ends at --timeout', async () => {
    const dir = await workdir();
    const closed = await startTcpServer((s) => s.destroy());
    const refused = await agentlink(['enroll', '--manager', `127.0.0.1:${closed.port}`, '--name', 'web-01', '--password-file', 'authd.pass'], dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/\(ERR_ENROLLMENT_CONNECTION\)\n$/);

    const silent = await startTcpServer(() => undefined);
    const started = Date.now();
    const slow = await agentlink(['enroll', '--manager', `127.0.0.1:${silent.port}`, '--name', 'web-01', '--timeout', '300ms'], dir);
    expect(slow.code).toBe(1);
    expect(slow.stderr).toMatch(/no reply within 300 ms \(ERR_ENROLLMENT_CONNECTION\)\n$/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it.each([
    [[], /--manager is required/],
    [['--manager', '127.0.0.1:99999'], /--manager port/],
    [['--manager', 'h', '--name', 'a b'], /invalid enrollment agent name|name/],
    [['--manager', 'h', '--password-file', 'missing.pass'], /--password-file: cannot read '.*missing\.pass' \(ENOENT\)/],
    [['--manager', 'h', '--agent-address', 'notanip'], /agent address 'notanip'/],
    [['--manager', 'h', '--bogus'], /unknown flag '--bogus'/],
  ])('%j is a usage or configuration error (exit code 2) before anything is sent', async (args, message) => {
    const dir = await workdir();
    const r = await agentlink(['enroll', ...args], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('--help prints the usage, listed in agentlink help', async () => {
    const dir = await workdir();
    const help = await agentlink(['enroll', '--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: agentlink enroll --manager HOST\[:PORT\]/);
    expect((await agentlink(['help'], dir)).stdout).toMatch(/^ {2}enroll /m);
  });
});
