import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, EnrollmentError } from '../../../src/index.js';
import {
  buildEnrollmentRequest,
  compareWazuhVersions,
  formatEnrollmentError,
  formatEnrollmentSuccess,
  parseEnrollmentRequest,
  parseEnrollmentResponse,
  validateEnrollmentGroups,
} from '../../../src/protocol/enrollment.js';
import type { ParseEnrollmentRequestOptions } from '../../../src/protocol/enrollment.js';
import { enrollmentKeyHash, isValidKeyIp } from '../../../src/protocol/keys.js';

interface EnrollmentVectors {
  request_min: string;
  request_full: string;
  key_hash_K_inputs: { id: string; name: string; raw_key: string };
  key_hash_K_sha1_of_id_name_key_concatenated: string;
  success_response: string;
  error_response_example: string;
}
const V = (
  JSON.parse(readFileSync(new URL('./fixtures/enrollment-vectors.json', import.meta.url), 'utf8')) as { enrollment: EnrollmentVectors }
).enrollment;
const KIN = V.key_hash_K_inputs;
const HASH = V.key_hash_K_sha1_of_id_name_key_concatenated;

/** The reason authd gives for `line`, or 'OK'. */
function reasonOf(line: string, options?: ParseEnrollmentRequestOptions): string {
  const r = parseEnrollmentRequest(line, options);
  return r.ok ? 'OK' : r.reason;
}

describe('buildEnrollmentRequest', () => {
  it('builds the minimal request byte for byte as the vector request_min', () => {
    expect(buildEnrollmentRequest({ name: 'agent1' })).toBe(V.request_min);
  });

  it('builds the full request byte for byte as the vector request_full', () => {
    const line = buildEnrollmentRequest({
      name: 'agent1',
      version: 'v4.14.7',
      password: 'topsecret',
      groups: ['default', 'linux'],
      agentAddress: 'src',
      keyHash: enrollmentKeyHash({ id: KIN.id, name: KIN.name, key: KIN.raw_key }),
    });
    expect(line).toBe(V.request_full);
  });

  it('derives the K: hash of the vector from id, name and key', () => {
    expect(enrollmentKeyHash({ id: KIN.id, name: KIN.name, key: KIN.raw_key })).toBe(HASH);
  });

  it('sends an IP or CIDR agent address as given and leaves out empty group lists', () => {
    expect(buildEnrollmentRequest({ name: 'web-01', agentAddress: '10.0.0.0/8', groups: [] })).toBe(
      "OSSEC A:'web-01' V:'v4.14.7' IP:'10.0.0.0/8'\n",
    );
  });

  it.each([
    ["agent' V:'v9.0.0", 'quote in the name'],
    ['agent 1', 'space in the name'],
    ['agent\n1', 'newline in the name'],
    ['agent\u00011', 'control character in the name'],
    ['.hidden', 'leading dot'],
    ['a', 'one character'],
    ['x'.repeat(129), '129 characters'],
  ])('refuses the name %j (%s) with ConfigError before anything is sent', (name) => {
    expect(() => buildEnrollmentRequest({ name })).toThrow(ConfigError);
  });

  it.each([
    [["linux' IP:'10.0.0.1"]],
    [['linux,windows']],
    [['a b']],
    [['a\nb']],
    [['']],
    [['.']],
    [['..']],
    [['x'.repeat(256)]],
    [Array.from({ length: 129 }, (_, i) => `g${i}`)],
  ])('refuses the group list %j with ConfigError', (groups) => {
    expect(() => buildEnrollmentRequest({ name: 'agent1', groups })).toThrow(ConfigError);
  });

  it('accepts 128 groups, the limit', () => {
    const groups = Array.from({ length: 128 }, (_, i) => `g${i}`);
    expect(buildEnrollmentRequest({ name: 'agent1', groups })).toContain(` G:'${groups.join(',')}'\n`);
  });

  it.each(["10.0.0.1' K:'x", '10.0.0.1 ', 'any\n', 'not-an-ip', '10.0.0.0/33'])('refuses the agent address %j', (agentAddress) => {
    expect(() => buildEnrollmentRequest({ name: 'agent1', agentAddress })).toThrow(ConfigError);
  });

  it('refuses a password with a newline or of 2 characters, without echoing it', () => {
    for (const password of ['top\nsecret', 'ab', '']) {
      let caught: unknown;
      try {
        buildEnrollmentRequest({ name: 'agent1', password });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      const e = caught as ConfigError;
      expect(e.element).toBe('enrollment.password');
      expect(e.value).toBe('[redacted]');
      if (password.length > 0) expect(e.message).not.toContain(password);
    }
  });

  it('refuses a key hash that is not 40 lowercase hex characters, and a version with a quote', () => {
    expect(() => buildEnrollmentRequest({ name: 'agent1', keyHash: 'ABC' })).toThrow(ConfigError);
    expect(() => buildEnrollmentRequest({ name: 'agent1', keyHash: HASH.toUpperCase() })).toThrow(ConfigError);
    expect(() => buildEnrollmentRequest({ name: 'agent1', version: "v4' G:'admin" })).toThrow(ConfigError);
  });
});

describe('parseEnrollmentRequest', () => {
  it('parses the full vector request with the password on', () => {
    const r = parseEnrollmentRequest(V.request_full, { password: 'topsecret', sourceIp: '192.0.2.7' });
    expect(r).toEqual({
      ok: true,
      name: 'agent1',
      version: 'v4.14.7',
      groups: ['default', 'linux'],
      requestedIp: 'src',
      ip: '192.0.2.7',
      keyHash: HASH,
    });
  });

  it('parses the minimal vector request with no password and records any', () => {
    expect(parseEnrollmentRequest(V.request_min)).toEqual({
      ok: true,
      name: 'agent1',
      version: 'v4.14.7',
      groups: undefined,
      requestedIp: undefined,
      ip: 'any',
      keyHash: undefined,
    });
  });

  describe('password', () => {
    const opts = { password: 'topsecret' };
    it.each([
      ["OSSEC A:'agent1' V:'v4.14.7'", 'no password sent'],
      ["OSSEC PASS: wrongpass OSSEC A:'agent1'", 'wrong password'],
      ["OSSEC PASS: topsecretX OSSEC A:'agent1'", 'password with extra characters'],
      ['OSSEC PASS: topsecret', 'password and nothing after it'],
      ['OSSEC PASS: topsecret ', 'password and a space only: longer is required, the space is the one extra'],
    ])('answers Invalid password when authd uses one: %j (%s)', (line) => {
      // The last case is longer than the password, so it passes the password check and fails on A:.
      const expected = line === 'OSSEC PASS: topsecret ' ? 'Invalid request for new agent' : 'Invalid password';
      expect(reasonOf(line, opts)).toBe(expected);
    });

    it('answers Invalid request for new agent when a password is sent to an authd without one', () => {
      expect(reasonOf("OSSEC PASS: topsecret OSSEC A:'agent1' V:'v4.14.7'")).toBe('Invalid request for new agent');
    });

    it('accepts a password that contains spaces', () => {
      expect(reasonOf("OSSEC PASS: top secret OSSEC A:'agent1'", { password: 'top secret' })).toBe('OK');
    });
  });

  describe('name', () => {
    it('answers Invalid request for new agent when the A: field is missing or unterminated', () => {
      expect(reasonOf("OSSEC X:'agent1'")).toBe('Invalid request for new agent');
      expect(reasonOf("OSSEC A:'agent1")).toBe('Invalid request for new agent');
      expect(reasonOf('')).toBe('Invalid request for new agent');
    });

    it.each(['a', '.agent', 'agent 1', 'agent$1', '', 'x'.repeat(129)])('answers Invalid agent name: %s', (name) => {
      expect(reasonOf(`OSSEC A:'${name}' V:'v4.14.7'`)).toBe(`Invalid agent name: ${name}`);
    });
  });

  describe('version', () => {
    it('refuses an agent whose major.minor is above the manager’s', () => {
      expect(reasonOf("OSSEC A:'agent1' V:'v4.15.0'")).toBe('Agent version must be lower or equal to manager version');
      expect(reasonOf("OSSEC A:'agent1' V:'v5.0.0'")).toBe('Agent version must be lower or equal to manager version');
      expect(reasonOf("OSSEC A:'agent1' V:'v4.6.0'", { managerVersion: 'v4.5.9' })).toBe(
        'Agent version must be lower or equal to manager version',
      );
    });

    it('ignores the patch level and accepts older agents', () => {
      expect(reasonOf("OSSEC A:'agent1' V:'v4.14.99'")).toBe('OK');
      expect(reasonOf("OSSEC A:'agent1' V:'v4.2.0'")).toBe('OK');
      expect(reasonOf("OSSEC A:'agent1' V:'v3.13.6'")).toBe('OK');
    });

    it('accepts newer agents with allowHigherVersions', () => {
      expect(reasonOf("OSSEC A:'agent1' V:'v4.15.0'", { allowHigherVersions: true })).toBe('OK');
    });

    it('answers Unterminated version field', () => {
      expect(reasonOf("OSSEC A:'agent3' V:'v4.5.0")).toBe('Unterminated version field');
      expect(reasonOf(`OSSEC A:'agent3' V:'${'9'.repeat(2049)}'`)).toBe('Unterminated version field');
    });

    it('compares versions on major.minor like compare_wazuh_versions', () => {
      expect(compareWazuhVersions('v4.14.7', 'v4.14.0')).toBe(0);
      expect(compareWazuhVersions('v4.14.7', 'v4.9.9')).toBe(1);
      expect(compareWazuhVersions('v4.9.9', 'v4.14.7')).toBe(-1);
      expect(compareWazuhVersions('v4.3.0', 'v4.3.10')).toBe(0);
      // Only the first 9 characters are read: 'Wazuh v4.' is major 4, minor 0.
      expect(compareWazuhVersions('Wazuh v4.3.0', 'v4.0.9')).toBe(0);
      expect(compareWazuhVersions('4.14', 'v4.14.7')).toBe(0);
    });
  });

  describe('groups', () => {
    const line = (g: string): string => `OSSEC A:'agent1' V:'v4.14.7' G:'${g}'`;

    it('accepts existing groups and removes repeated ones', () => {
      const r = parseEnrollmentRequest(line('default,linux,default'), { existingGroups: ['default', 'linux'] });
      expect(r.ok && r.groups).toEqual(['default', 'linux']);
    });

    it.each([
      ['', 'Invalid group name: Empty Group'],
      ['x'.repeat(256), `Invalid group name: ${'x'.repeat(255)}... group is too large`],
      [`a,${'y'.repeat(256)}`, `Invalid group name: ${'y'.repeat(255)}... group is too large`],
      ['a b,c', "Invalid group name: a b,c... white spaces are not allowed"],
      ['a,,b', "Invalid group name: a,,b... consecutive ',' are not allowed"],
      [',', `Invalid group name: ,... characters '\\/:*?"<>|,' are prohibited`],
      [',a', "Invalid group name: ,a... cannot start or end with ','"],
      ['a,', "Invalid group name: a,... cannot start or end with ','"],
      ['a/b', `Invalid group name: a/b... characters '\\/:*?"<>|,' are prohibited`],
      ['a b', `Invalid group name: a b... characters '\\/:*?"<>|,' are prohibited`],
      ['a:b', 'Invalid group name: a:b'],
      ['..', 'Invalid group name: ..'],
      ['default,nosuch', 'Invalid group: nosuch'],
    ])('answers the exact reason for G:%j', (groups, reason) => {
      expect(reasonOf(line(groups), { existingGroups: ['default', 'a', 'b', 'c'] })).toBe(reason);
    });

    it('answers Maximum multigroup reached for 129 existing groups, and accepts 128', () => {
      const names = Array.from({ length: 129 }, (_, i) => `g${i}`);
      expect(reasonOf(line(names.join(',')), { existingGroups: names })).toBe('Maximum multigroup reached: Limit is 128');
      expect(reasonOf(line(names.slice(0, 128).join(',')), { existingGroups: names })).toBe('OK');
    });

    it('reports an unknown group before the limit when it comes first, as authd walks the list in order', () => {
      const names = Array.from({ length: 129 }, (_, i) => `g${i}`);
      expect(reasonOf(line(names.join(',')), { existingGroups: names.filter((n) => n !== 'g3') })).toBe('Invalid group: g3');
    });

    it('takes every group to exist when no list is given', () => {
      expect(reasonOf(line('anything,else'))).toBe('OK');
      expect(validateEnrollmentGroups(['a', 'b'])).toBeUndefined();
      expect(validateEnrollmentGroups(['a', 'b'], new Set(['a']))).toBe('Invalid group: b');
    });

    it('answers Unterminated group field', () => {
      expect(reasonOf("OSSEC A:'agent3' G:'Group1,Group2")).toBe('Unterminated group field');
    });
  });

  describe('IP', () => {
    it('records the requested address, or the source for src, or any without the field', () => {
      const p = (l: string, o?: ParseEnrollmentRequestOptions) => {
        const r = parseEnrollmentRequest(l, o);
        return r.ok ? r.ip : r.reason;
      };
      expect(p("OSSEC A:'agent2' IP:'192.0.0.2'", { sourceIp: '192.0.0.1' })).toBe('192.0.0.2');
      expect(p("OSSEC A:'agent2' IP:'10.0.0.0/8'")).toBe('10.0.0.0/8');
      expect(p("OSSEC A:'agent2' IP:'fd00::1'")).toBe('fd00::1');
      expect(p("OSSEC A:'agent2' IP:'src'", { sourceIp: '192.0.0.1' })).toBe('192.0.0.1');
      expect(p("OSSEC A:'agent1'", { sourceIp: '192.0.0.1' })).toBe('any');
      expect(p("OSSEC A:'agent1'", { sourceIp: '192.0.0.1', useSourceIp: true })).toBe('192.0.0.1');
    });

    it.each(['300.0.0.1', 'hello', '10.0.0.1/33', '10.0.0.0/255.0.255.0', ''])('answers Invalid IP: %s', (ip) => {
      expect(reasonOf(`OSSEC A:'agent2' IP:'${ip}'`)).toBe(`Invalid IP: ${ip}`);
    });

    it('answers Unterminated IP field, also when a space ends the address', () => {
      expect(reasonOf("OSSEC A:'agent3' G:'Group1,Group2' IP:'192.0.0.3 K:'ABC123'")).toBe('Unterminated IP field');
      expect(reasonOf("OSSEC A:'agent3' IP:'192.0.0.3")).toBe('Unterminated IP field');
    });
  });

  describe('key hash', () => {
    it('returns the K: hash', () => {
      const r = parseEnrollmentRequest(`OSSEC A:'agent1' V:'v4.14.7' K:'${HASH}'`);
      expect(r.ok && r.keyHash).toBe(HASH);
    });

    it('answers Unterminated key field, also for a hash longer than 40 characters', () => {
      expect(reasonOf("OSSEC A:'agent3' G:'Group1,Group2' IP:'192.0.0.3' K:'ABC123")).toBe('Unterminated key field');
      expect(reasonOf(`OSSEC A:'agent3' K:'${HASH}0'`)).toBe('Unterminated key field');
    });
  });

  it('checks fields in the fixed order, so a bad name wins over a bad version', () => {
    expect(reasonOf("OSSEC A:'bad name' V:'v9.0.0'")).toBe('Invalid agent name: bad name');
    expect(reasonOf("OSSEC A:'agent1' V:'v9.0.0' G:'a,,b'")).toBe('Agent version must be lower or equal to manager version');
  });

  it('reads a field up to the next quote, as sscanf does, so a missing quote swallows the next field', () => {
    const r = parseEnrollmentRequest("OSSEC A:'agent1' V:'v4.14.7 G:'a,,b'");
    expect(r).toMatchObject({ ok: true, version: 'v4.14.7 G:', groups: undefined });
  });

  it('ignores fields out of order and trailing bytes', () => {
    const r = parseEnrollmentRequest("OSSEC A:'agent1' G:'linux' V:'v9.9.9' junk");
    expect(r).toMatchObject({ ok: true, version: undefined, groups: ['linux'] });
  });

  it('tolerates a trailing newline', () => {
    expect(reasonOf(V.request_min)).toBe('OK');
    expect(reasonOf("OSSEC A:'agent1'\r\n")).toBe('OK');
  });
});

describe('replies', () => {
  const key = { id: KIN.id, name: KIN.name, ip: 'any', key: KIN.raw_key };

  it('formats the success reply as the vector success_response, with no newline', () => {
    expect(formatEnrollmentSuccess(key)).toBe(V.success_response);
  });

  it('formats the error reply as the vector error_response_example', () => {
    expect(formatEnrollmentError('Duplicate agent name: agent1')).toBe(V.error_response_example);
  });

  it('parses the vector success_response into the key', () => {
    expect(parseEnrollmentResponse(V.success_response)).toEqual({ ok: true, key });
  });

  it('parses the v4.13+ error form and the v4.0-4.12 two-message form to the same reason', () => {
    expect(parseEnrollmentResponse(V.error_response_example)).toEqual({ ok: false, reason: 'Duplicate agent name: agent1' });
    expect(parseEnrollmentResponse('ERROR: Duplicate agent name: agent1ERROR: Unable to add agent')).toEqual({
      ok: false,
      reason: 'Duplicate agent name: agent1',
    });
    expect(parseEnrollmentResponse('ERROR: Invalid password\nERROR: Unable to add agent\n')).toEqual({ ok: false, reason: 'Invalid password' });
    expect(parseEnrollmentResponse('ERROR: Invalid password')).toEqual({ ok: false, reason: 'Invalid password' });
  });

  it.each([
    ["OSSEC K:'001 agent1 any 0123456789abcdef", 'unterminated'],
    ["OSSEC K:'001 agent1 any'", 'three fields'],
    ["OSSEC K:'001 agent1 any abc def'", 'five fields'],
    ["OSSEC K:'123456789 agent1 any 0123456789abcdef'", 'id of 9 digits'],
    ["OSSEC K:'00a agent1 any 0123456789abcdef'", 'id not digits'],
    ["OSSEC K:'001 a any 0123456789abcdef'", 'name too short'],
    ["OSSEC K:'001 agent1 999.0.0.1 0123456789abcdef'", 'bad IP'],
    ["OSSEC K:'001 agent1 any k'", 'key too short'],
    ["OSSEC K:'001 agent1 any key$bad'", 'key with a bad character'],
    ['HTTP/1.1 400 Bad Request\r\n', 'garbage'],
    ['', 'empty'],
  ])('refuses the reply %j (%s) with ERR_ENROLLMENT_RESPONSE', (text) => {
    let caught: unknown;
    try {
      parseEnrollmentResponse(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(EnrollmentError);
    expect((caught as EnrollmentError).code).toBe('ERR_ENROLLMENT_RESPONSE');
  });

  it('never quotes the key in a response error', () => {
    const secret = 'S3cretKeyMaterial';
    expect(() => parseEnrollmentResponse(`OSSEC K:'001 agent1 any ${secret}$'`)).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining(secret) as unknown }),
    );
  });

  it('accepts the IP forms of OS_IsValidIP', () => {
    for (const ip of ['any', '10.1.2.3', '10.0.0.0/8', '10.0.0.0/255.0.0.0', '::1', 'fd00::/64']) expect(isValidKeyIp(ip)).toBe(true);
    for (const ip of ['', 'src', '10.0.0.0/255.0.255.0', '10.0.0.1/', 'fd00::/129', 'localhost']) expect(isValidKeyIp(ip)).toBe(false);
  });
});
