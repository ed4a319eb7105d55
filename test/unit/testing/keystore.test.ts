import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/index.js';
import { KeyStore } from '../../../src/testing/index.js';

const KEY = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

describe('KeyStore', () => {
  it('refuses an entry whose IP field the SDK would refuse', () => {
    expect(() => new KeyStore([{ id: '001', name: 'agent1', ip: 'notanip', key: 'k'.repeat(64) }])).toThrow(/invalid IP field 'notanip'/);
    expect(() => new KeyStore().generate(1, { ip: '10.0.0.0/33' })).toThrow(/invalid IP field/);
  });

  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('parses client.keys text and reserves the ids of removed entries', () => {
    const store = new KeyStore(`001 agent1 any ${KEY}\n007 !gone any ${KEY}\n003 web 10.0.0.5 ${KEY}\n`);
    expect(store.size).toBe(2);
    expect(store.get('001')?.name).toBe('agent1');
    expect(store.get('1')).toBeUndefined();
    expect(store.nextId()).toBe('008');
  });

  it('finds agents by exact single-host IP, never by any or a wide CIDR', () => {
    const store = new KeyStore([
      { id: '001', name: 'a1', ip: 'any', key: KEY },
      { id: '002', name: 'a2', ip: '10.0.0.5', key: KEY },
      { id: '003', name: 'a3', ip: '10.0.1.7/32', key: KEY },
      { id: '004', name: 'a4', ip: '10.0.0.0/8', key: KEY },
    ]);
    expect(store.findByIp('10.0.0.5')?.id).toBe('002');
    expect(store.findByIp('::ffff:10.0.1.7')?.id).toBe('003');
    expect(store.findByIp('10.0.0.9')).toBeUndefined();
    expect(store.findByName('a4')?.id).toBe('004');
  });

  it('emits added and removed, and keeps a removed id for the highest-id rule', () => {
    const store = new KeyStore();
    const seen: string[] = [];
    store.on('added', (k) => seen.push(`+${k.id}`));
    store.on('removed', (k) => seen.push(`-${k.id}`));
    expect(store.nextId()).toBe('001');
    store.add({ id: store.nextId(), name: 'one', ip: 'any', key: KEY });
    store.add({ id: store.nextId(), name: 'two', ip: 'any', key: KEY });
    expect(store.remove('002')?.name).toBe('two');
    expect(store.remove('002')).toBeUndefined();
    expect(store.nextId()).toBe('003');
    expect(store.findByName('two')).toBeUndefined();
    expect(seen).toEqual(['+001', '+002', '-002']);
  });

  it('rejects a duplicate id, a bad name and an empty key without showing the key', () => {
    const store = new KeyStore([{ id: '001', name: 'one', ip: 'any', key: KEY }]);
    expect(() => store.add({ id: '001', name: 'other', ip: 'any', key: KEY })).toThrow(ConfigError);
    expect(() => store.add({ id: '002', name: '.bad', ip: 'any', key: KEY })).toThrow(/invalid agent name/);
    expect(() => store.add({ id: 'x', name: 'ok', ip: 'any', key: KEY })).toThrow(/invalid agent id/);
    try {
      store.add({ id: '003', name: 'ok', ip: 'any', key: 'sec ret' });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).code).toBe('ERR_CONFIG_KEYS');
      expect((err as Error).message).not.toContain('sec ret');
    }
  });

  it('generates distinct identities with 64-hex keys and %03d ids', () => {
    const store = new KeyStore(`009 old any ${KEY}\n`);
    const keys = store.generate(3, { namePrefix: 'sim', ip: 'any' });
    expect(keys.map((k) => k.id)).toEqual(['010', '011', '012']);
    expect(keys.map((k) => k.name)).toEqual(['sim010', 'sim011', 'sim012']);
    for (const k of keys) expect(k.key).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(keys.map((k) => k.key)).size).toBe(3);
    expect(store.size).toBe(4);
    expect(store.toMap().get('011')).toBe(keys[1]);
    expect(store.lookup('012')).toBe(keys[2]);
    expect(() => store.generate(-1)).toThrow(ConfigError);
  });

  it('saves atomically and loads back the same entries and reserved ids', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentlink-keys-'));
    dirs.push(dir);
    const path = join(dir, 'client.keys');
    const store = new KeyStore();
    store.generate(3);
    store.remove('002');
    await store.save(path);
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    const text = await readFile(path, 'latin1');
    expect(text.split('\n').filter(Boolean)).toHaveLength(3);
    const loaded = await KeyStore.load(path);
    expect(loaded.list()).toEqual(store.list());
    expect(loaded.nextId()).toBe('004');
    await expect(KeyStore.load(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ERR_CONFIG_KEYS' });
  });
});
