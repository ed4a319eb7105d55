import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AgentlinkError, DecodeError, EncodeError } from '../../../src/index.js';
import {
  FrameDecoder,
  Blowfish,
  checkCounter,
  decodeSecureMessage,
  deriveEncryptionKey,
  encodeSecureFrame,
  encodeSecureMessage,
  encodeTcpFrame,
  formatCounter,
  isPing,
  nextCounter,
  peekAgentId,
} from '../../../src/index.js';
import type { AgentKey, MessageCounter } from '../../../src/index.js';
import { V, fullVectors, hex, keyFromLine, vector } from './vectors.js';

const KEY = keyFromLine(V.vectors[0]!.inputs.key_line);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).code;
  }
  return undefined;
}

/**
 * Independent encryption-layer builder for vectors that start from compressed bytes:
 * '!' padding, cipher, header, frame — written from protocol.md 3.1, not using the encoder.
 */
function encryptionLayer(compressed: Buffer, key: AgentKey, method: 'aes' | 'blowfish', idHeader: boolean): { padded: Buffer; payload: Buffer } {
  const extra = (8 - ((compressed.length + 1) % 8)) % 8;
  const padded = Buffer.concat([Buffer.alloc(extra + 1, '!'), compressed]);
  const d = deriveEncryptionKey(key);
  let ct: Buffer;
  if (method === 'aes') {
    const c = createCipheriv('aes-256-cbc', Buffer.from(d.encryptionKey.slice(0, 32), 'ascii'), Buffer.from('FEDCBA0987654321', 'ascii'));
    ct = Buffer.concat([c.update(padded), c.final()]);
  } else {
    ct = Buffer.from(padded);
    new Blowfish(Buffer.from(d.encryptionKey, 'ascii')).encryptCbc(ct);
  }
  const header = (idHeader ? `!${key.id}!` : '') + (method === 'aes' ? '#AES:' : ':');
  return { padded, payload: Buffer.concat([Buffer.from(header, 'ascii'), ct]) };
}

describe('encryption layer (bit-exact from the vectors)', () => {
  for (const v of V.vectors) {
    it(`${v.id}: compressed bytes give the vector's padded bytes, payload and TCP frame`, () => {
      const compressed = hex(v.expected.compressed_hex ?? v.inputs.compressed_hex!);
      const { padded, payload } = encryptionLayer(compressed, keyFromLine(v.inputs.key_line), v.inputs.method, v.inputs.id_header);
      expect(padded.toString('hex')).toBe(v.expected.padded_hex);
      expect(payload.toString('hex')).toBe(v.expected.payload_hex);
      expect(encodeTcpFrame(payload).toString('hex')).toBe(v.expected.tcp_frame_hex);
    });
  }
});

describe('decodeSecureMessage on the vectors', () => {
  for (const v of fullVectors) {
    it(`${v.id}: decodes to the vector's inputs`, () => {
      const key = keyFromLine(v.inputs.key_line);
      const r = decodeSecureMessage(hex(v.expected.payload_hex), { keys: [key] });
      expect(r.agentId).toBe(v.inputs.id_header ? key.id : undefined);
      expect(r.key).toBe(key);
      expect(r.method).toBe(v.inputs.method);
      expect(r.random).toBe(v.inputs.random);
      expect(r.global).toBe(v.inputs.global_counter);
      expect(r.local).toBe(v.inputs.local_counter);
      expect(r.message.toString('latin1')).toBe(v.inputs.message_ascii);
    });
  }

  it('decodes the encryption-layer-only vectors to the aes-event-agent message', () => {
    for (const id of ['aes-encryption-layer-only', 'blowfish-encryption-layer-only']) {
      const r = decodeSecureMessage(hex(vector(id).expected.payload_hex), { keys: [KEY] });
      expect(r.message.toString()).toBe(vector('aes-event-agent').inputs.message_ascii);
    }
  });

  it('finds the key by id in a map and through a lookup function', () => {
    const p = hex(vector('aes-event-agent').expected.payload_hex);
    const other: AgentKey = { id: '002', name: 'other', ip: 'any', key: 'x'.repeat(64) };
    expect(decodeSecureMessage(p, { keys: new Map([['002', other], ['001', KEY]]) }).key).toBe(KEY);
    expect(decodeSecureMessage(p, { keys: (id) => (id === '001' ? KEY : undefined) }).agentId).toBe('001');
  });

  it('finds the key of a header-less payload by the exact source IP', () => {
    const single: AgentKey = { ...KEY, ip: '192.168.1.10' };
    const other: AgentKey = { id: '002', name: 'other', ip: 'any', key: 'x'.repeat(64) };
    const p = hex(vector('aes-event-single-host-key').expected.payload_hex);
    const r = decodeSecureMessage(p, { keys: [other, single], sourceIp: '192.168.1.10' });
    expect(r.key).toBe(single);
    expect(r.agentId).toBe('001');
    expect(codeOf(() => decodeSecureMessage(p, { keys: [other, single], sourceIp: '192.168.1.11' }))).toBe('ERR_DECODE_UNKNOWN_AGENT');
  });

  it('checks the source IP against the key of an !id! header', () => {
    const p = hex(vector('aes-event-agent').expected.payload_hex);
    const cidr: AgentKey = { ...KEY, ip: '10.0.0.0/8' };
    expect(decodeSecureMessage(p, { keys: [cidr], sourceIp: '10.1.2.3' }).agentId).toBe('001');
    let err: DecodeError | undefined;
    try {
      decodeSecureMessage(p, { keys: [cidr], sourceIp: '11.1.2.3' });
    } catch (e) {
      err = e as DecodeError;
    }
    expect(err?.code).toBe('ERR_DECODE_UNKNOWN_AGENT');
    expect(err?.agentId).toBe('001');
  });

  it('rejects an unknown agent id with ERR_DECODE_UNKNOWN_AGENT and names it', () => {
    const p = hex(vector('aes-event-agent').expected.payload_hex);
    try {
      decodeSecureMessage(p, { keys: [{ ...KEY, id: '002' }] });
      expect.unreachable();
    } catch (e) {
      expect((e as DecodeError).code).toBe('ERR_DECODE_UNKNOWN_AGENT');
      expect((e as DecodeError).agentId).toBe('001');
    }
  });

  it('rejects a payload whose method differs from the configured one', () => {
    const p = hex(vector('aes-ack-manager').expected.payload_hex);
    expect(codeOf(() => decodeSecureMessage(p, { keys: [KEY], method: 'blowfish' }))).toBe('ERR_DECODE_FORMAT');
    expect(decodeSecureMessage(p, { keys: [KEY], method: 'aes' }).method).toBe('aes');
  });
});

describe('negative vectors', () => {
  const expected: Record<string, string> = {
    'bad-checksum': 'ERR_DECODE_CHECKSUM',
    'wrong-key': 'ERR_DECODE_DECRYPT',
    'missing-colon': 'ERR_DECODE_FORMAT',
  };
  for (const nv of V.negative_vectors) {
    it(`rejects ${nv.id} with ${expected[nv.id]}`, () => {
      let err: DecodeError | undefined;
      try {
        decodeSecureMessage(hex(nv.payload_hex), { keys: [KEY] });
      } catch (e) {
        err = e as DecodeError;
      }
      expect(err).toBeInstanceOf(DecodeError);
      expect(err!.code).toBe(expected[nv.id]);
      expect(err!.agentId).toBe('001');
    });
  }
});

describe('other decode failures', () => {
  const key = deriveEncryptionKey(KEY);
  function aesPayload(plain: Buffer): Buffer {
    const c = createCipheriv('aes-256-cbc', key.aes, Buffer.from('FEDCBA0987654321'));
    return Buffer.concat([Buffer.from('!001!#AES:'), c.update(plain), c.final()]);
  }

  const cases: [string, Buffer, string][] = [
    ['an empty payload', Buffer.alloc(0), 'ERR_DECODE_SIZE'],
    ['a payload over 65536 bytes', Buffer.alloc(65537, 0x3a), 'ERR_DECODE_SIZE'],
    ['a header with no closing !', Buffer.from('!001#AES:abc'), 'ERR_DECODE_FORMAT'],
    ['a header with a letter', Buffer.from('!0a1!#AES:abc'), 'ERR_DECODE_FORMAT'],
    ['an empty id', Buffer.from('!!#AES:'), 'ERR_DECODE_FORMAT'],
    ['an id of 9 digits', Buffer.from('!123456789!#AES:'), 'ERR_DECODE_FORMAT'],
    ['an AES ciphertext of 15 bytes', Buffer.concat([Buffer.from('!001!#AES:'), Buffer.alloc(15)]), 'ERR_DECODE_DECRYPT'],
    ['an empty AES ciphertext', Buffer.from('!001!#AES:'), 'ERR_DECODE_DECRYPT'],
    ['an empty Blowfish ciphertext', Buffer.from('!001!:'), 'ERR_DECODE_DECRYPT'],
    ['a Blowfish ciphertext of 9 bytes', Buffer.concat([Buffer.from('!001!:'), Buffer.alloc(9)]), 'ERR_DECODE_DECRYPT'],
    ['a plaintext without ! prefix', aesPayload(Buffer.from('x'.repeat(16))), 'ERR_DECODE_DECRYPT'],
    ['the legacy : format', aesPayload(Buffer.from(':legacy')), 'ERR_DECODE_FORMAT'],
    ['an invalid zlib stream', aesPayload(Buffer.from('!!!not zlib')), 'ERR_DECODE_COMPRESSION'],
  ];
  for (const [what, payload, code] of cases) {
    it(`rejects ${what} with ${code}`, () => {
      expect(codeOf(() => decodeSecureMessage(payload, { keys: [KEY] }))).toBe(code);
    });
  }

  it('rejects a block shorter than 53 bytes with ERR_DECODE_COMPRESSION', async () => {
    const { deflateSync } = await import('node:zlib');
    expect(codeOf(() => decodeSecureMessage(aesPayload(Buffer.concat([Buffer.from('!'), deflateSync(Buffer.alloc(52, 0x30))])), { keys: [KEY] }))).toBe(
      'ERR_DECODE_COMPRESSION',
    );
  });

  it('rejects bad counter fields with ERR_DECODE_FORMAT naming the offset', async () => {
    const { deflateSync } = await import('node:zlib');
    const { createHash } = await import('node:crypto');
    for (const [block, offset] of [
      ['12345000000000x:0001:msg', 14],
      ['123450000000000-0001:msg', 15],
      ['123450000000000:00a1:msg', 18],
      ['123450000000000:0001;msg', 20],
      ['1234a0000000000:0001:msg', 4],
    ] as const) {
      const plain = Buffer.from(createHash('md5').update(block).digest('hex') + block);
      try {
        decodeSecureMessage(aesPayload(Buffer.concat([Buffer.from('!'), deflateSync(plain)])), { keys: [KEY] });
        expect.unreachable();
      } catch (e) {
        expect((e as DecodeError).code).toBe('ERR_DECODE_FORMAT');
        expect((e as DecodeError).message).toContain(`offset ${offset}`);
      }
    }
  });

  it('ignores bytes after the end of the zlib stream', () => {
    const v = vector('aes-event-agent');
    const comp = hex(v.expected.compressed_hex!);
    const r = decodeSecureMessage(aesPayload(Buffer.concat([Buffer.from('!!'), comp, Buffer.from('trailing')])), { keys: [KEY] });
    expect(r.message.toString()).toBe(v.inputs.message_ascii);
  });

  it('converts a throwing key lookup into a DecodeError', () => {
    const p = hex(vector('aes-event-agent').expected.payload_hex);
    expect(
      codeOf(() =>
        decodeSecureMessage(p, {
          keys: () => {
            throw new TypeError('boom');
          },
        }),
      ),
    ).toBe('ERR_DECODE_FORMAT');
  });

  it('rejects a header-less payload when no key can be chosen', () => {
    const p = hex(vector('aes-ack-manager').expected.payload_hex);
    expect(codeOf(() => decodeSecureMessage(p, { keys: [] }))).toBe('ERR_DECODE_UNKNOWN_AGENT');
    expect(codeOf(() => decodeSecureMessage(p, { keys: () => KEY }))).toBe('ERR_DECODE_UNKNOWN_AGENT');
  });
});

describe('encodeSecureMessage round trip (our zlib)', () => {
  for (const v of fullVectors) {
    it(`${v.id}: re-encoding with the vector's random and counters decodes to the same inputs`, () => {
      const key = keyFromLine(v.inputs.key_line);
      const agentKey = v.id === 'aes-event-single-host-key' ? { ...key, ip: '192.168.1.50' } : key;
      const sender = v.id.endsWith('-manager') ? 'manager' : 'agent';
      const payload = encodeSecureMessage(v.inputs.message_ascii!, {
        key: agentKey,
        method: v.inputs.method,
        sender,
        counter: { global: v.inputs.global_counter!, local: v.inputs.local_counter! },
        random: v.inputs.random!,
        compressionLevel: v.inputs.zlib_level!,
      });
      // Everything before the ciphertext is bit-exact: the header.
      const expectedPayload = hex(v.expected.payload_hex);
      const headerLen = expectedPayload.length - hex(v.expected.ciphertext_hex).length;
      expect(payload.subarray(0, headerLen).equals(expectedPayload.subarray(0, headerLen))).toBe(true);
      const r = decodeSecureMessage(payload, { keys: [agentKey] });
      expect(r.agentId).toBe(v.inputs.id_header ? key.id : undefined);
      expect(r.method).toBe(v.inputs.method);
      expect(r.random).toBe(v.inputs.random);
      expect(r.global).toBe(v.inputs.global_counter);
      expect(r.local).toBe(v.inputs.local_counter);
      expect(r.message.toString('latin1')).toBe(v.inputs.message_ascii);
      // The ciphertext decrypts to '!' padding + a zlib stream of md5 ‖ block.
      const frame = encodeSecureFrame(v.inputs.message_ascii!, {
        key: agentKey,
        method: v.inputs.method,
        sender,
        counter: { global: v.inputs.global_counter!, local: v.inputs.local_counter! },
        random: v.inputs.random!,
      });
      expect(frame.readUInt32LE(0)).toBe(frame.length - 4);
      expect(decodeSecureMessage(frame.subarray(4), { keys: [agentKey] }).message.toString('latin1')).toBe(v.inputs.message_ascii);
    });
  }

  it('sends the !id! header for any, CIDR and IPv6 keys, not for a single IPv4 host, and never as manager', () => {
    const base = { method: 'aes' as const, counter: { global: 0, local: 1 }, random: 1 };
    const head = (ip: string, sender: 'agent' | 'manager') =>
      encodeSecureMessage('1:x:y', { ...base, key: { ...KEY, ip }, sender }).toString('latin1', 0, 10);
    expect(head('any', 'agent')).toBe('!001!#AES:');
    expect(head('10.0.0.0/8', 'agent')).toBe('!001!#AES:');
    expect(head('::1', 'agent')).toBe('!001!#AES:');
    expect(head('10.0.0.1', 'agent').startsWith('#AES:')).toBe(true);
    expect(head('any', 'manager').startsWith('#AES:')).toBe(true);
    expect(encodeSecureMessage('1:x:y', { ...base, method: 'blowfish', key: KEY, sender: 'agent' }).toString('latin1', 0, 6)).toBe('!001!:');
  });

  it('round-trips binary, UTF-8 and maximum-size messages', () => {
    const opts = { key: KEY, method: 'aes' as const, sender: 'agent' as const, counter: { global: 7, local: 9997 } };
    const bin = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff));
    expect(decodeSecureMessage(encodeSecureMessage(bin, opts), { keys: [KEY] }).message.equals(bin)).toBe(true);
    expect(decodeSecureMessage(encodeSecureMessage('1:é:ü€', opts), { keys: [KEY] }).message.toString()).toBe('1:é:ü€');
    const max = Buffer.alloc(65408, 0x61);
    const r = decodeSecureMessage(encodeSecureMessage(max, { ...opts, method: 'blowfish' }), { keys: [KEY] });
    expect(r.message.length).toBe(65408);
    expect(r.global).toBe(7);
    expect(r.local).toBe(9997);
  });

  it('rejects an empty or oversize message with the codec error ERR_ENCODE_SIZE', () => {
    const opts = { key: KEY, method: 'aes' as const, sender: 'agent' as const, counter: { global: 0, local: 1 } };
    for (const m of ['', Buffer.alloc(65409)]) {
      try {
        encodeSecureMessage(m, opts);
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(EncodeError);
        expect((e as AgentlinkError).code).toBe('ERR_ENCODE_SIZE');
      }
    }
  });

  it('measures string messages in UTF-8 bytes at the limit, whichever path writes them', () => {
    const opts = { key: KEY, method: 'aes' as const, sender: 'agent' as const, counter: { global: 0, local: 1 } };
    // '€' is three UTF-8 bytes, a surrogate pair four: strings up to a third of the limit in UTF-16
    // units are written before they are measured, longer ones are measured first
    const cases: [string, boolean][] = [
      ['€'.repeat(21802) + 'ab', true], // 21 804 units, 65 408 bytes: the limit exactly
      ['€'.repeat(21802) + 'abc', false], // 65 409 bytes
      ['€'.repeat(21802), true], // 21 802 units (the short path), 65 406 bytes
      ['😀'.repeat(16352), true], // 32 704 units, 65 408 bytes
      ['😀'.repeat(16352) + 'a', false],
      ['a'.repeat(65408), true],
      ['a'.repeat(65409), false],
    ];
    for (const [m, fits] of cases) {
      if (fits) {
        expect(decodeSecureMessage(encodeSecureMessage(m, opts), { keys: [KEY] }).message.toString('utf8')).toBe(m);
      } else {
        expect(() => encodeSecureMessage(m, opts)).toThrow(/exceeds the 65408-byte limit/);
      }
    }
  });

  it('fits a maximum-size incompressible message in one 65536-byte frame', async () => {
    const { randomBytes } = await import('node:crypto');
    const msg = randomBytes(65408);
    for (const method of ['aes', 'blowfish'] as const) {
      const frame = encodeSecureFrame(msg, { key: KEY, method, sender: 'agent', counter: { global: 0, local: 1 } });
      expect(frame.length - 4).toBeLessThanOrEqual(65536);
      expect(decodeSecureMessage(frame.subarray(4), { keys: [KEY] }).message.equals(msg)).toBe(true);
    }
  });

  it('rejects out-of-range counters, random fields, compression levels and ids with ERR_CONFIG', () => {
    const base = { key: KEY, method: 'aes' as const, sender: 'agent' as const, counter: { global: 0, local: 1 } };
    const bad = [
      { ...base, counter: { global: -1, local: 1 } },
      { ...base, counter: { global: 2 ** 32, local: 1 } },
      { ...base, counter: { global: 0, local: 10000 } },
      { ...base, counter: { global: 0.5, local: 1 } },
      { ...base, random: 65536 },
      { ...base, compressionLevel: 10 },
      { ...base, compressionLevel: -1 },
      { ...base, compressionLevel: 4.5 },
      { ...base, key: { ...KEY, id: '1!2' } },
    ];
    for (const opts of bad) {
      try {
        encodeSecureMessage('1:a:b', opts);
        expect.unreachable(JSON.stringify(opts));
      } catch (e) {
        expect((e as AgentlinkError).code).toBe('ERR_CONFIG');
      }
    }
    // A manager never writes the id, so any id works there.
    expect(() => encodeSecureMessage('1:a:b', { ...base, sender: 'manager', key: { ...KEY, id: 'x' } })).not.toThrow();
  });

  it('every compression level gives frames an independent decoder (node:crypto + node:zlib) reads, on seeded random messages', async () => {
    const { createDecipheriv, createHash } = await import('node:crypto');
    const { inflateSync } = await import('node:zlib');
    const { mulberry32 } = await import('../../helpers/prng.js');
    const rnd = mulberry32(0xc0ffee);
    const aesKey = deriveEncryptionKey(KEY).aes;
    for (let t = 0; t < 300; t++) {
      const level = t % 10;
      const len = 1 + Math.floor(rnd() ** 3 * 5000);
      const msg = Buffer.from(Array.from({ length: len }, (_, i) => (rnd() < 0.5 ? 0x61 + (i % 7) : Math.floor(rnd() * 256))));
      const counter = { global: Math.floor(rnd() * 2 ** 32), local: 1 + Math.floor(rnd() * 9997) };
      const random = Math.floor(rnd() * 65536);
      const frame = encodeSecureFrame(msg, { key: KEY, method: 'aes', sender: 'agent', counter, random, compressionLevel: level });
      expect(frame.toString('latin1', 4, 14)).toBe('!001!#AES:');
      const d = createDecipheriv('aes-256-cbc', aesKey, Buffer.from('FEDCBA0987654321'));
      const padded = Buffer.concat([d.update(frame.subarray(14)), d.final()]);
      let z = 0;
      while (padded[z] === 0x21) z++;
      expect(z).toBeGreaterThanOrEqual(1);
      expect(z).toBeLessThanOrEqual(8);
      expect(padded.length % 8).toBe(0);
      if (level === 0) {
        expect(padded.readUInt16BE(z)).toBe(0x7801);
        expect(padded[z + 2]).toBe(1); // one final stored block
        expect(padded.readUInt16LE(z + 3)).toBe(53 + len);
      }
      const block = inflateSync(padded.subarray(z));
      expect(block.toString('latin1', 0, 32)).toBe(createHash('md5').update(block.subarray(32)).digest('hex'));
      expect(block.toString('latin1', 32, 53)).toBe(`${String(random).padStart(5, '0')}${formatCounter(counter)}:`);
      expect(block.subarray(53).equals(msg)).toBe(true);
      for (const method of ['aes', 'blowfish'] as const) {
        const r = decodeSecureMessage(encodeSecureMessage(msg, { key: KEY, method, sender: 'agent', counter, random, compressionLevel: level }), { keys: [KEY] });
        expect(r.message.equals(msg)).toBe(true);
        expect([r.global, r.local, r.random]).toEqual([counter.global, counter.local, random]);
      }
    }
  });

  it('uses a random field between 0 and 65535 when none is given', () => {
    const r = decodeSecureMessage(encodeSecureMessage('1:a:b', { key: KEY, method: 'aes', sender: 'agent', counter: { global: 0, local: 1 } }), {
      keys: [KEY],
    });
    expect(r.random).toBeGreaterThanOrEqual(0);
    expect(r.random).toBeLessThan(65536);
  });

  it('frames that a FrameDecoder splits at every byte decode to the vector messages', () => {
    const frames = fullVectors.map((v) => hex(v.expected.tcp_frame_hex));
    const stream = Buffer.concat(frames);
    const d = new FrameDecoder();
    const got = [...stream].flatMap((b) => d.push(Buffer.from([b])));
    expect(got.map((p) => decodeSecureMessage(p, { keys: [KEY] }).message.toString())).toEqual(fullVectors.map((v) => v.inputs.message_ascii));
  });
});

describe('counters', () => {
  it('follows counter_sequence_from_0_9995', () => {
    let c: MessageCounter = { global: 0, local: 9995 };
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      c = nextCounter(c);
      seen.push(formatCounter(c));
    }
    expect(seen).toEqual(V.counter_sequence_from_0_9995);
  });

  it('starts at 0000000000:0001 and wraps the global counter at 2^32', () => {
    expect(formatCounter(nextCounter({ global: 0, local: 0 }))).toBe('0000000000:0001');
    expect(nextCounter({ global: 4294967295, local: 9997 })).toEqual({ global: 0, local: 1 });
  });

  it('classifies received counters as remoted does with verify_msg_id', () => {
    expect(checkCounter(undefined, { global: 0, local: 1 })).toBe('ok');
    expect(checkCounter({ global: 1, local: 5 }, { global: 1, local: 6 })).toBe('ok');
    expect(checkCounter({ global: 1, local: 5 }, { global: 2, local: 1 })).toBe('ok');
    expect(checkCounter({ global: 1, local: 5 }, { global: 1, local: 5 })).toBe('duplicate');
    expect(checkCounter({ global: 1, local: 5 }, { global: 1, local: 4 })).toBe('duplicate');
    expect(checkCounter({ global: 1, local: 5 }, { global: 0, local: 9000 })).toBe('backwards');
  });
});

describe('isPing', () => {
  it('recognises the unencrypted #ping', () => {
    expect(isPing(Buffer.from('#ping'))).toBe(true);
    expect(isPing(Buffer.from('#pong'))).toBe(false);
    expect(isPing(Buffer.from('#pin'))).toBe(false);
  });
});

describe('peekAgentId', () => {
  it('reads the id of every !id! header as its digits, leading zeros kept, whatever ids came before', () => {
    const ids = ['1', '01', '001', '0001', '00000001', '10', '010', '99999999', '0'];
    for (let n = 0; n < 70_000; n++) ids.push(String(n * 7919 % 100_000_000).padStart(1 + (n % 8), '0'));
    for (let round = 0; round < 2; round++) {
      for (const id of ids) {
        const header = peekAgentId(Buffer.from(`!${id}!#AES:payload`, 'latin1'));
        expect(header).toEqual({ id, end: id.length + 2 });
      }
    }
  });

  it('refuses a header without 1 to 8 digits between the bangs, and reads none without a leading bang', () => {
    for (const bad of ['!!:x', '!123456789!:x', '!12a!:x', '!12', '!']) {
      expect(() => peekAgentId(Buffer.from(bad, 'latin1'))).toThrow(DecodeError);
    }
    expect(peekAgentId(Buffer.from('#AES:x', 'latin1'))).toBeUndefined();
  });
});

describe('decodeDecryptedPayload (a payload whose AES body was decrypted with others)', () => {
  it('gives what decodeSecurePayload gives, and the same errors', async () => {
    const { aesCiphertextOf, decodeDecryptedPayload, decodeSecurePayload } = await import('../../../src/protocol/secure.js');
    const { aesDecryptMany } = await import('../../../src/protocol/aes.js');
    const key: AgentKey = { id: '007', name: 'batch-agent', ip: 'any', key: 'b'.repeat(64) };
    const aes = deriveEncryptionKey(key).aes;
    const payloads = [1, 2, 3].map((local) => encodeSecureMessage(`1:/var/log/x:event ${local}`, { key, method: 'aes', sender: 'agent', counter: { global: 0, local } }));
    const headers = payloads.map((p) => peekAgentId(p));
    const cts = payloads.map((p, i) => aesCiphertextOf(p, headers[i])!);
    const plains = aesDecryptMany(aes, cts);
    for (let i = 0; i < payloads.length; i++) {
      expect(decodeDecryptedPayload(payloads[i]!, key, headers[i], plains[i]!)).toEqual(decodeSecurePayload(payloads[i]!, key, headers[i]));
    }
    // a body that does not decrypt to valid padding: the same DecodeError, naming the agent
    const wrong = Buffer.alloc(cts[0]!.length, 9);
    const tampered = Buffer.concat([payloads[0]!.subarray(0, payloads[0]!.length - wrong.length), wrong]);
    const [garbage] = aesDecryptMany(aes, [wrong, wrong]);
    let alone: unknown;
    try {
      decodeSecurePayload(tampered, key, headers[0]);
    } catch (err) {
      alone = err;
    }
    let batched: unknown;
    try {
      decodeDecryptedPayload(tampered, key, headers[0], garbage!);
    } catch (err) {
      batched = err;
    }
    expect(batched).toBeInstanceOf(DecodeError);
    expect((batched as DecodeError).code).toBe((alone as DecodeError).code);
    expect((batched as DecodeError).message).toBe((alone as DecodeError).message);
    expect((batched as DecodeError).agentId).toBe('007');
  });

  it('finds the AES body only after an !id! header and #AES:, when it is whole blocks', async () => {
    const { aesCiphertextOf } = await import('../../../src/protocol/secure.js');
    const key: AgentKey = { id: '008', name: 'batch-agent2', ip: 'any', key: 'c'.repeat(64) };
    const p = encodeSecureMessage('hello', { key, method: 'aes', sender: 'agent', counter: { global: 0, local: 1 } });
    const h = peekAgentId(p);
    expect(aesCiphertextOf(p, h)?.length).toBe(p.length - h!.end - 5);
    expect(aesCiphertextOf(p.subarray(0, p.length - 1), h)).toBeUndefined();
    expect(aesCiphertextOf(Buffer.from('!008!:abcdefgh', 'latin1'), h)).toBeUndefined();
    expect(aesCiphertextOf(Buffer.from('!008!#AES:', 'latin1'), h)).toBeUndefined();
  });
});
