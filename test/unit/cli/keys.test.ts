import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { parseClientKeys } from '../../../src/index.js';
import { testIo } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'agentlink-keys-'));
  dirs.push(d);
  return d;
}

describe('agentlink keys generate', () => {
  test('N identities go to stdout in client.keys format with sequential ids, prefixed names and random 64-hex keys', async () => {
    const io = testIo();
    expect(await main(['keys', 'generate', '12'], io)).toBe(0);
    const keys = parseClientKeys(io.stdout.text);
    expect(keys).toHaveLength(12);
    expect(keys.map((k) => k.id)).toEqual(['001', '002', '003', '004', '005', '006', '007', '008', '009', '010', '011', '012']);
    expect(keys[0]).toMatchObject({ name: 'sim-001', ip: 'any' });
    for (const k of keys) expect(k.key).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(keys.map((k) => k.key)).size).toBe(12);
    expect(io.stderr.text).toBe('');
  });

  test('-o writes the file with mode 0640 and --prefix/--ip shape the entries', async () => {
    const dir = tempDir();
    const io = testIo({ cwd: dir });
    expect(await main(['keys', 'generate', '3', '--prefix', 'edge-', '--ip', '10.0.0.0/8', '-o', 'client.keys'], io)).toBe(0);
    const path = join(dir, 'client.keys');
    const keys = parseClientKeys(readFileSync(path, 'latin1'));
    expect(keys.map((k) => `${k.id} ${k.name} ${k.ip}`)).toEqual(['001 edge-001 10.0.0.0/8', '002 edge-002 10.0.0.0/8', '003 edge-003 10.0.0.0/8']);
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(io.stdout.text).toBe('');
    expect(io.stderr.lines).toEqual(['agentlink keys: wrote 3 agent identities to client.keys']);
    expect(io.stderr.text).not.toContain(keys[0]!.key);
  });

  test('an existing file is kept unless --force is given', async () => {
    const dir = tempDir();
    const path = join(dir, 'client.keys');
    writeFileSync(path, 'keep me\n');
    const io = testIo({ cwd: dir });
    expect(await main(['keys', 'generate', '1', '-o', 'client.keys'], io)).toBe(2);
    expect(io.stderr.lines).toEqual(['agentlink keys: client.keys already exists; add --force to overwrite it or choose another -o file']);
    expect(readFileSync(path, 'utf8')).toBe('keep me\n');
    expect(await main(['keys', 'generate', '1', '-o', 'client.keys', '--force'], testIo({ cwd: dir }))).toBe(0);
    expect(parseClientKeys(readFileSync(path, 'latin1'))).toHaveLength(1);
  });

  test.each([
    [['keys'], /missing subcommand/],
    [['keys', 'make', '3'], /unknown subcommand 'make'/],
    [['keys', 'generate'], /N must be a whole number.*got nothing/],
    [['keys', 'generate', '0'], /N must be a whole number from 1/],
    [['keys', 'generate', '2', 'extra'], /unexpected argument 'extra'/],
    [['keys', 'generate', '2', '--prefix', '.'], /--prefix '\.' makes invalid agent names/],
    [['keys', 'generate', '2', '--count', '3'], /unknown flag '--count'/],
    [['keys', 'generate', '2', '--ip', 'notanip'], /--ip 'notanip' must be any, an IP address or a CIDR block/],
    [['keys', 'generate', '2', '--ip', '10.0.0.0/33'], /--ip '10\.0\.0\.0\/33' must be/],
  ])('%j is a usage error', async (argv, message) => {
    const io = testIo();
    expect(await main(argv, io)).toBe(2);
    expect(io.stderr.lines).toHaveLength(1);
    expect(io.stderr.lines[0]).toMatch(message);
  });
});
