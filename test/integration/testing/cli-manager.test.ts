import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { runManager } from '../../../src/cli/manager.js';
import { KeyStore } from '../../../src/testing/index.js';
import { until, useCleanup } from './fixtures.js';
import { testIo } from '../../unit/cli/helpers.js';
import { ACK, KEEPALIVE, RawAgent, STARTUP } from './raw-agent.js';

const cleanup = useCleanup();

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

async function tmp(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agentlink-cli-manager-'));
  cleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function start(argv: string[], cwd: string) {
  const out = capture();
  const err = capture();
  const ac = new AbortController();
  const done = runManager(argv, { stdout: out.stream, stderr: err.stream, signal: ac.signal, cwd });
  cleanup(async () => {
    ac.abort();
    await done;
  });
  return { out, err, ac, done };
}

describe('agentlink manager', () => {
  it('serves the agents of a keys file, prints events as JSON lines and status changes on stderr, and stops on abort', async () => {
    const dir = await tmp();
    const store = new KeyStore();
    const [k] = store.generate(1, { namePrefix: 'web' });
    await store.save(join(dir, 'client.keys'));
    const { out, err, ac, done } = start(['--port', '0', '--keys', 'client.keys', '--udp', '--name', 'n1'], dir);
    await until(() => /listening udp/.test(out.text()));
    const port = Number(/listening tcp 127\.0\.0\.1:(\d+)/.exec(out.text())![1]);
    expect(out.text()).toContain(`listening udp 127.0.0.1:${port}`);
    const a = await RawAgent.tcp(k!, port);
    cleanup(() => a.close());
    expect(await a.handshake()).toBe(ACK);
    a.send(KEEPALIVE);
    await a.next();
    a.send('1:C|:\\app.log:hello "cli"');
    await until(() => out.text().includes('hello'));
    const line = out.text().split('\n').find((l) => l.startsWith('{'))!;
    expect(JSON.parse(line)).toEqual({ agentId: k!.id, queue: '1', location: 'C:\\app.log', message: 'hello "cli"' });
    expect(err.text()).toContain(`agent ${k!.id} (${k!.name}) pending\n`);
    expect(err.text()).toContain(`agent ${k!.id} (${k!.name}) active\n`);
    ac.abort();
    expect(await done).toBe(0);
    expect(await a.waitClosed()).toBe(true);
  });

  it('runs authd with a password file, appends enrolled agents to the keys file, and writes events to a file', async () => {
    const dir = await tmp();
    await writeFile(join(dir, 'authd.pass'), 'topsecret\n');
    const { out, err, ac, done } = start(
      ['--port', '0', '--authd-port', '0', '--password-file', 'authd.pass', '--keys', 'new.keys', '--events-json', 'events.jsonl'],
      dir,
    );
    await until(() => /listening authd/.test(out.text()));
    const port = Number(/listening tcp 127\.0\.0\.1:(\d+)/.exec(out.text())![1]);
    const authdPort = Number(/listening authd 127\.0\.0\.1:(\d+)/.exec(out.text())![1]);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: authdPort, rejectUnauthorized: false }, () =>
        s.write("OSSEC PASS: topsecret OSSEC A:'edge9' V:'v4.14.7'\n"),
      );
      let buf = '';
      s.on('data', (d: Buffer) => (buf += d.toString()));
      s.on('close', () => resolve(buf));
      s.on('error', reject);
    });
    const m = /^OSSEC K:'(\d+) (\S+) (\S+) ([0-9a-f]{64})'/.exec(reply)!;
    const key = { id: m[1]!, name: m[2]!, ip: m[3]!, key: m[4]! };
    await until(() => err.text().includes('enrolled'));
    const a = await RawAgent.tcp(key, port);
    cleanup(() => a.close());
    expect(await a.handshake()).toBe(ACK);
    a.send('1:app:to the file');
    await until(() => err.text().includes('pending'));
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    expect(await done).toBe(0);
    expect((await KeyStore.load(join(dir, 'new.keys'))).get(key.id)?.name).toBe('edge9');
    expect(JSON.parse((await readFile(join(dir, 'events.jsonl'), 'utf8')).trim())).toMatchObject({ message: 'to the file' });
    expect(out.text()).not.toContain('to the file');
  });

  it.each([
    [['--bogus'], /^agentlink manager: unknown flag '--bogus'/],
    [['--port', '99999'], /--port must be a port number/],
    [['--password-file', 'x'], /--password-file needs --authd-port/],
    [['--keys', 'missing.keys'], /does not exist/],
    [['--udp=yes'], /--udp is a switch/],
    [['extra'], /unexpected argument 'extra'/],
  ])('rejects %j with one line on stderr and exit code 2', async (argv, re) => {
    const dir = await tmp();
    const io = testIo({ cwd: dir });
    expect(await main(['manager', ...argv], io)).toBe(2);
    expect(io.stderr.text).toMatch(re);
    expect(io.stderr.lines).toHaveLength(1);
    expect(io.stderr.text).not.toMatch(/\bat /);
  });

  it('prints help with --help and exits 0', async () => {
    const io = testIo();
    expect(await main(['manager', '--help'], io)).toBe(0);
    expect(io.stdout.text).toMatch(/^Usage: agentlink manager/);
  });

  it('says which listener cannot listen, with the system code and ERR_LISTEN, and exits 1', async () => {
    const dir = await tmp();
    const first = start(['--port', '0', '--authd-port', '0'], dir);
    await until(() => /listening authd/.test(first.out.text()));
    const port = /listening tcp 127\.0\.0\.1:(\d+)/.exec(first.out.text())![1]!;
    const authdPort = /listening authd 127\.0\.0\.1:(\d+)/.exec(first.out.text())![1]!;
    const remoted = testIo({ cwd: dir });
    expect(await main(['manager', '--port', port], remoted)).toBe(1);
    expect(remoted.stderr.lines).toEqual([
      `agentlink manager: remoted cannot listen on 127.0.0.1:${port}: the port is in use (choose another, or 0 for a free one) (EADDRINUSE) (ERR_LISTEN)`,
    ]);
    const authd = testIo({ cwd: dir, env: { AGENTLINK_DEBUG: '1' } });
    expect(await main(['manager', '--port', '0', '--authd-port', authdPort], authd)).toBe(1);
    expect(authd.stderr.lines[0]).toBe(
      `agentlink manager: authd cannot listen on 127.0.0.1:${authdPort}: the port is in use (choose another, or 0 for a free one) (EADDRINUSE) (ERR_LISTEN)`,
    );
    expect(authd.stderr.text).toMatch(/\n\s+at /); // AGENTLINK_DEBUG=1 adds the stack
  });

  it('prints a line for every payload it refuses: an unknown agent, a wrong key', async () => {
    const dir = await tmp();
    const store = new KeyStore();
    const [k] = store.generate(1, { namePrefix: 'web' });
    await store.save(join(dir, 'client.keys'));
    const { out, err } = start(['--port', '0', '--keys', 'client.keys'], dir);
    await until(() => /listening tcp/.test(out.text()));
    const port = Number(/listening tcp 127\.0\.0\.1:(\d+)/.exec(out.text())![1]);
    const wrongKey = await RawAgent.tcp({ ...k!, key: 'f'.repeat(64) }, port);
    cleanup(() => wrongKey.close());
    wrongKey.send(STARTUP);
    const unknown = await RawAgent.tcp({ ...k!, id: '999', name: 'ghost' }, port);
    cleanup(() => unknown.close());
    unknown.send(STARTUP);
    await until(() => err.text().split('\n').filter((l) => l.startsWith('refused ')).length >= 2);
    const lines = err.text().split('\n').filter((l) => l.startsWith('refused '));
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^refused tcp 127\\.0\\.0\\.1:\\d+ \\(agent ${k!.id}\\): .* \\(ERR_DECODE_(DECRYPT|CHECKSUM)\\)$`)),
        expect.stringMatching(/^refused tcp 127\.0\.0\.1:\d+( \(agent 999\))?: .*999.* \(ERR_DECODE_UNKNOWN_AGENT\)$/),
      ]),
    );
  });
});
