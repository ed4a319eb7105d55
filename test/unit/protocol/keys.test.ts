import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/index.js';
import {
  deriveEncryptionKey,
  enrollmentKeyHash,
  formatClientKeys,
  isSingleHost,
  isValidAgentId,
  isValidAgentName,
  keyIpAllows,
  parseClientKeys,
  parseClientKeysDetailed,
} from '../../../src/index.js';
import { V } from './vectors.js';

const KEY = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

describe('deriveEncryptionKey', () => {
  for (const kd of V.key_derivation) {
    it(`derives the 47-character key and the AES and Blowfish keys for agent ${kd.inputs.id} ${kd.inputs.name}`, () => {
      const d = deriveEncryptionKey({ id: kd.inputs.id, name: kd.inputs.name, key: kd.inputs.raw_key });
      expect(d.encryptionKey).toBe(kd.expected.encryption_key);
      expect(d.encryptionKey).toHaveLength(47);
      expect(d.aes.toString('latin1')).toBe(kd.expected.aes_key_ascii);
      expect(d.aes).toHaveLength(32);
      expect(d.blowfish.toString('latin1')).toBe(kd.expected.blowfish_key_ascii);
      expect(d.blowfish).toHaveLength(47);
    });
  }

  it('returns the cached derivation for the same entry and a different one for another id', () => {
    const a = deriveEncryptionKey({ id: '001', name: 'agent1', key: KEY });
    expect(deriveEncryptionKey({ id: '001', name: 'agent1', key: KEY })).toBe(a);
    const b = deriveEncryptionKey({ id: '1', name: 'agent1', key: KEY });
    expect(b.encryptionKey).not.toBe(a.encryptionKey);
    expect(b.aes.equals(a.aes)).toBe(true); // id and name do not affect the AES key
  });

  it('keeps both derived keys in one buffer of their own, not in the shared Buffer pool', () => {
    const d = deriveEncryptionKey({ id: '002', name: 'agent-own-buffer', key: KEY });
    expect(d.aes.buffer).toBe(d.blowfish.buffer);
    expect(d.aes.buffer.byteLength).toBe(d.aes.length + d.blowfish.length);
    expect(d.aes.toString('latin1') + d.blowfish.toString('latin1').slice(32)).toBe(d.encryptionKey);
  });
});

describe('enrollmentKeyHash', () => {
  it('is the sha1 of id, name and key concatenated', () => {
    const i = V.enrollment.key_hash_K_inputs;
    expect(enrollmentKeyHash({ id: i.id, name: i.name, key: i.raw_key })).toBe(V.enrollment.key_hash_K_sha1_of_id_name_key_concatenated);
  });
});

describe('parseClientKeys', () => {
  it('reads entries and skips comments, lines starting with a space, empty lines and removed agents', () => {
    const text = [
      '# comment',
      ' 009 indented any k',
      `001 agent1 any ${KEY}`,
      '',
      '002 #removed any abc',
      '003 !removed2 10.0.0.1 abc',
      `004 web-01.example 10.0.0.0/8 ${KEY}`,
      '',
    ].join('\n');
    const r = parseClientKeysDetailed(text);
    expect(r.keys).toEqual([
      { id: '001', name: 'agent1', ip: 'any', key: KEY },
      { id: '004', name: 'web-01.example', ip: '10.0.0.0/8', key: KEY },
    ]);
    expect(r.removedIds).toEqual(['002', '003']);
    expect(parseClientKeys(text)).toEqual(r.keys);
  });

  it('keeps a trailing carriage return as part of the key, as Wazuh does', () => {
    expect(parseClientKeys(`001 agent1 any ${KEY}\r\n`)[0]!.key).toBe(`${KEY}\r`);
  });

  it('keeps spaces inside the key field', () => {
    expect(parseClientKeys('001 agent1 any a b c')[0]!.key).toBe('a b c');
  });

  const bad: [string, string][] = [
    ['abc agent1 any k', 'invalid agent id'],
    ['123456789 agent1 any k', 'invalid agent id'],
    ['001 a any k', 'invalid agent name'],
    ['001 .hidden any k', 'invalid agent name'],
    ['001 bad/name any k', 'invalid agent name'],
    ['001 agent1 any', 'no IP and key'],
    ['001 agent1', 'no IP and key'],
    ['001 agent1 any ', 'empty key'],
    ['001 agent1 notanip k', 'invalid IP field'],
    ['001 agent1 10.0.0.0/255.0.255.0 k', 'invalid IP field'],
    ['001 agent1 fd00::/129 k', 'invalid IP field'],
  ];
  for (const [line, what] of bad) {
    it(`rejects '${line}' with ERR_CONFIG_KEYS naming the line (${what})`, () => {
      let err: unknown;
      try {
        parseClientKeys(`# first\n${line}\n`);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('ERR_CONFIG_KEYS');
      expect((err as ConfigError).message).toContain('line 2');
      expect((err as ConfigError).message).toContain(what);
    });
  }

  it('rejects an agent id used twice, naming both lines (a removed entry does not count)', () => {
    const text = `001 agent1 any ${KEY}\n002 !old any ${KEY}\n002 agent2 any ${KEY}\n# c\n001 agent3 any ${KEY}\n`;
    let err: unknown;
    try {
      parseClientKeys(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('ERR_CONFIG_KEYS');
    expect((err as ConfigError).element).toBe('client.keys:5');
    expect((err as ConfigError).message).toBe('client.keys line 5: agent id 001 is already on line 1; every agent needs its own id');
  });

  it('accepts the IP fields Wazuh accepts: any, IPv4, IPv4 CIDR in both notations, IPv6 and IPv6 prefixes', () => {
    const ips = ['any', '10.1.2.3', '10.0.0.0/8', '10.0.0.0/255.0.0.0', '::1', 'fd00::/64'];
    const text = ips.map((ip, i) => `00${i + 1} agent${i + 1} ${ip} ${KEY}`).join('\n');
    expect(parseClientKeys(text).map((k) => k.ip)).toEqual(ips);
  });

  it('never puts the key text in the error', () => {
    const secret = 'supersecretkeymaterial';
    try {
      parseClientKeys(`x agent1 any ${secret}`);
      expect.unreachable();
    } catch (e) {
      expect(String((e as Error).message)).not.toContain(secret);
      expect(JSON.stringify(e)).not.toContain(secret);
    }
    try {
      parseClientKeys(`001 ! any ${secret}`);
    } catch (e) {
      expect(String((e as Error).message)).not.toContain(secret);
    }
  });

  it('formats entries back to the same text', () => {
    const text = `001 agent1 any ${KEY}\n002 agent2 10.1.2.3 ${KEY}\n`;
    expect(formatClientKeys(parseClientKeys(text))).toBe(text);
    expect(formatClientKeys([])).toBe('');
  });
});

describe('validators', () => {
  it('accepts ids of 1 to 8 digits only', () => {
    expect(['0', '001', '12345678'].every(isValidAgentId)).toBe(true);
    expect(['', '123456789', '1a', '-1', ' 1'].some(isValidAgentId)).toBe(false);
  });

  it('accepts names of 2 to 128 characters of [A-Za-z0-9._-] not starting with a dot', () => {
    expect(['ab', 'agent1', 'a.b-c_d', '_x', 'x'.repeat(128)].every(isValidAgentName)).toBe(true);
    expect(['a', '.ab', 'a b', 'a/b', 'x'.repeat(129), 'é1'].some(isValidAgentName)).toBe(false);
  });
});

describe('isSingleHost', () => {
  it('is true only for a single IPv4 host', () => {
    expect(['10.0.0.1', '10.0.0.1/32', '10.0.0.1/255.255.255.255'].map(isSingleHost)).toEqual([true, true, true]);
    expect(['any', '10.0.0.0/8', '10.0.0.1/31', '10.0.0.0/255.0.0.0', '::1', 'fe80::1/128', '', 'host'].map(isSingleHost)).toEqual(
      Array(8).fill(false),
    );
  });
});

describe('keyIpAllows', () => {
  it('admits any source for any, the contained sources for a CIDR, and the address itself', () => {
    expect(keyIpAllows('any', '1.2.3.4')).toBe(true);
    expect(keyIpAllows('10.0.0.0/8', '10.9.9.9')).toBe(true);
    expect(keyIpAllows('10.0.0.0/8', '11.0.0.1')).toBe(false);
    expect(keyIpAllows('10.0.0.0/255.0.0.0', '10.1.1.1')).toBe(true);
    expect(keyIpAllows('127.0.0.1', '::ffff:127.0.0.1')).toBe(true);
    expect(keyIpAllows('127.0.0.1', '127.0.0.2')).toBe(false);
    expect(keyIpAllows('0.0.0.0/0', '8.8.8.8')).toBe(true);
    expect(keyIpAllows('::1', '::1')).toBe(true);
    expect(keyIpAllows('::1', '127.0.0.1')).toBe(false);
  });
});
