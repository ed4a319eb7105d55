import { createCipheriv, createDecipheriv } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DecodeError } from '../../../src/index.js';
import {
  AES_IV,
  Blowfish,
  BLOWFISH_IV,
  aesDecrypt,
  aesEncrypt,
  aesEncryptNoPadding,
  blowfishDecrypt,
  blowfishEncrypt,
  deriveEncryptionKey,
} from '../../../src/index.js';
import { hex, keyFromLine, vector } from './vectors.js';

// Eric Young's Blowfish ECB test vectors (key, plaintext, ciphertext).
const ECB: [string, string, string][] = [
  ['0000000000000000', '0000000000000000', '4ef997456198dd78'],
  ['ffffffffffffffff', 'ffffffffffffffff', '51866fd5b85ecb8a'],
  ['3000000000000000', '1000000000000001', '7d856f9a613063f2'],
  ['1111111111111111', '1111111111111111', '2466dd878b963c9d'],
  ['0123456789abcdef', '1111111111111111', '61f9c3802281b096'],
  ['1111111111111111', '0123456789abcdef', '7d0cc630afda1ec7'],
  ['fedcba9876543210', '0123456789abcdef', '0aceab0fc6a0a28d'],
];

describe('Blowfish', () => {
  for (const [k, p, c] of ECB) {
    it(`encrypts ${p} under key ${k} to the published ${c}`, () => {
      expect(new Blowfish(hex(k)).encryptBlock(hex(p)).toString('hex')).toBe(c);
    });
  }

  it('matches the published CBC test vector with a 16-byte key', () => {
    // key 0123456789ABCDEFF0E1D2C3B4A59687, IV FEDCBA9876543210, "7654321 Now is the time for " + NUL, zero padded
    const bf = new Blowfish(hex('0123456789abcdeff0e1d2c3b4a59687'));
    const data = Buffer.alloc(32);
    Buffer.from('7654321 Now is the time for \0', 'latin1').copy(data);
    const out = Buffer.alloc(32);
    bf.encryptCbc(data, out, hex('fedcba9876543210'));
    expect(out.toString('hex')).toBe('6b77b4d63006dee605b156e27403979358deb9e7154616d959f1652bd5ff92cc');
    const back = Buffer.alloc(32);
    bf.decryptCbc(out, back, hex('fedcba9876543210'));
    expect(back.equals(data)).toBe(true);
  });

  it('reproduces the Wazuh Blowfish layer of bf-event-agent and blowfish-encryption-layer-only', () => {
    for (const id of ['bf-event-agent', 'blowfish-encryption-layer-only', 'bf-ack-manager']) {
      const v = vector(id);
      const key = deriveEncryptionKey(keyFromLine(v.inputs.key_line)).blowfish;
      expect(blowfishEncrypt(key, hex(v.expected.padded_hex)).toString('hex')).toBe(v.expected.ciphertext_hex);
      expect(blowfishDecrypt(key, hex(v.expected.ciphertext_hex)).toString('hex')).toBe(v.expected.padded_hex);
    }
  });

  it('encrypts in place to the same bytes', () => {
    const v = vector('bf-event-agent');
    const buf = hex(v.expected.padded_hex);
    new Blowfish(deriveEncryptionKey(keyFromLine(v.inputs.key_line)).blowfish).encryptCbc(buf);
    expect(buf.toString('hex')).toBe(v.expected.ciphertext_hex);
  });

  it('uses the IV FE DC BA 98 76 54 32 10', () => {
    expect(BLOWFISH_IV.toString('hex')).toBe('fedcba9876543210');
  });

  it('rejects input that is not a multiple of 8 bytes and an empty key', () => {
    expect(() => blowfishEncrypt(Buffer.from('k'), Buffer.alloc(7))).toThrow(DecodeError);
    expect(() => new Blowfish(Buffer.alloc(0))).toThrow(DecodeError);
  });
});

describe('AES', () => {
  it('uses the ASCII IV FEDCBA0987654321', () => {
    expect(AES_IV.toString('hex')).toBe('46454443424130393837363534333231');
  });

  for (const id of ['aes-event-agent', 'aes-encryption-layer-only', 'aes-pad-8-bang', 'aes-keepalive']) {
    it(`reproduces the ciphertext of ${id} from its padded bytes`, () => {
      const v = vector(id);
      const key = deriveEncryptionKey(keyFromLine(v.inputs.key_line)).aes;
      expect(aesEncrypt(key, hex(v.expected.padded_hex)).toString('hex')).toBe(v.expected.ciphertext_hex);
      expect(aesDecrypt(key, hex(v.expected.ciphertext_hex)).toString('hex')).toBe(v.expected.padded_hex);
    });
  }

  it('gives the same bytes as a fresh node:crypto cipher per message over many messages, keys interleaved, and leaves its input alone', async () => {
    const { mulberry32 } = await import('../../helpers/prng.js');
    const rnd = mulberry32(77);
    const keys = [Buffer.alloc(32, 0x61), Buffer.alloc(32, 0x62), Buffer.from('0123456789abcdef0123456789abcdef')];
    for (let t = 0; t < 300; t++) {
      const key = keys[t % keys.length]!;
      const data = Buffer.from(Array.from({ length: 16 * (1 + Math.floor(rnd() * 20)) }, () => Math.floor(rnd() * 256)));
      const copy = Buffer.from(data);
      const c = createCipheriv('aes-256-cbc', key, AES_IV);
      c.setAutoPadding(false);
      const want = c.update(data);
      expect(aesEncryptNoPadding(key, data).equals(want)).toBe(true);
      expect(data.equals(copy)).toBe(true);
      const d = createDecipheriv('aes-256-cbc', key, AES_IV);
      const plain = Buffer.concat([d.update(aesEncrypt(key, data)), d.final()]);
      expect(plain.equals(data)).toBe(true);
      expect(aesDecrypt(key, aesEncrypt(key, data)).equals(data)).toBe(true);
    }
  });

  it('decrypts several messages with one call (aesDecryptMany) to what each decrypts to alone, and keeps the context right for the next', async () => {
    const { mulberry32 } = await import('../../helpers/prng.js');
    const { aesDecryptMany, aesUnpad } = await import('../../../src/protocol/aes.js');
    const rnd = mulberry32(5);
    const key = Buffer.alloc(32, 0x71);
    for (let t = 0; t < 50; t++) {
      const texts = Array.from({ length: 2 + (t % 9) }, (_, i) => Buffer.alloc(1 + Math.floor(rnd() * 300), 0x41 + i));
      const cts = texts.map((m) => aesEncrypt(key, m));
      const plains = aesDecryptMany(key, cts);
      expect(plains.map((p) => aesUnpad(p).toString('hex'))).toEqual(texts.map((m) => m.toString('hex')));
      // a message decrypted alone afterwards, with the context that ran on
      const next = Buffer.alloc(40, t);
      expect(aesDecrypt(key, aesEncrypt(key, next)).equals(next)).toBe(true);
    }
    // bad padding is found per message, by aesUnpad, with aesDecrypt's error
    const bad = aesDecryptMany(key, [aesEncrypt(key, Buffer.alloc(5, 1)), Buffer.alloc(32, 7)]);
    expect(aesUnpad(bad[0]!).equals(Buffer.alloc(5, 1))).toBe(true);
    expect(() => aesUnpad(bad[1]!)).toThrow(DecodeError);
  });

  it('stays correct for more keys than it keeps contexts for (4096), used in turn, both directions (evicted contexts are released)', () => {
    const keys = Array.from({ length: 4300 }, (_, i) => {
      const k = Buffer.alloc(32);
      k.writeUInt32LE(i, 0);
      return k;
    });
    const data = Buffer.alloc(48, 9);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < keys.length; i += round === 1 ? 7 : 1) {
        const c = createCipheriv('aes-256-cbc', keys[i]!, AES_IV);
        c.setAutoPadding(false);
        const sealed = aesEncryptNoPadding(keys[i]!, data);
        expect(sealed.equals(c.update(data))).toBe(true);
        // PKCS#7 of 32 bytes is a whole block of 16s: decrypting it gives the 32 bytes back
        const padded = Buffer.concat([data.subarray(0, 32), Buffer.alloc(16, 16)]);
        expect(aesDecrypt(keys[i]!, aesEncryptNoPadding(keys[i]!, padded)).equals(data.subarray(0, 32))).toBe(true);
      }
    }
  });

  describe('with idle contexts released (not used for 1-2 s, swept on a miss)', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('gives the same bytes as a fresh cipher for keys used before and after a release, and after the clock steps back', () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const keys = Array.from({ length: 6 }, (_, i) => Buffer.alloc(32, 0x30 + i));
      const data = Buffer.alloc(64, 5);
      const expected = (key: Buffer): Buffer => {
        const c = createCipheriv('aes-256-cbc', key, AES_IV);
        c.setAutoPadding(false);
        return c.update(data);
      };
      const check = (i: number): void => {
        expect(aesEncryptNoPadding(keys[i]!, data).equals(expected(keys[i]!))).toBe(true);
        expect(aesDecrypt(keys[i]!, aesEncrypt(keys[i]!, data)).equals(data)).toBe(true);
      };
      // steps of 1.2 s: each miss sweeps; keys 0 and 1 go idle, key 2 stays in use
      for (let step = 0; step < 8; step++) {
        vi.setSystemTime(1_000_000 + step * 1200);
        check(2);
        if (step < 2) check(step);
        check(3 + (step % 3));
      }
      check(0);
      check(1);
      vi.setSystemTime(500_000);
      for (let i = 0; i < keys.length; i++) check(i);
    });
  });

  it('follows a key buffer whose bytes change between calls', () => {
    const key = Buffer.alloc(32, 0x61);
    const data = Buffer.alloc(32, 7);
    const first = aesEncryptNoPadding(key, data);
    expect(aesDecrypt(key, aesEncrypt(key, data)).equals(data)).toBe(true);
    key.fill(0x62);
    const c = createCipheriv('aes-256-cbc', Buffer.alloc(32, 0x62), AES_IV);
    c.setAutoPadding(false);
    const second = aesEncryptNoPadding(key, data);
    expect(second.equals(c.update(data))).toBe(true);
    expect(second.equals(first)).toBe(false);
    expect(() => aesEncryptNoPadding(key, Buffer.alloc(0))).toThrow(DecodeError);
    expect(() => aesEncryptNoPadding(key, Buffer.alloc(17))).toThrow(DecodeError);
  });

  it('rejects a bad length and bad padding with ERR_DECODE_DECRYPT', () => {
    const key = Buffer.alloc(32, 0x61);
    expect(() => aesDecrypt(key, Buffer.alloc(15))).toThrow(DecodeError);
    expect(() => aesDecrypt(key, Buffer.alloc(0))).toThrow(DecodeError);
    const ct = aesEncrypt(key, Buffer.from('hello'));
    expect(() => aesDecrypt(Buffer.alloc(32, 0x62), ct)).toThrow(/padding/);
  });
});
