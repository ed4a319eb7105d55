/**
 * The bare baseline of the benches: the secure-message steps of protocol.md 3.1 and 3.3 written
 * inline with `node:crypto` and `node:zlib` only, as a hand-written sender or sink would do them
 * (one zlib call, one cipher object and one MD5 per message). The codec bench and the end-to-end
 * bench compare agentlink against it in the same run.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import type { AgentKey, MessageCounter } from '../src/protocol/index.js';

/** The key of the codec bench. */
export const BENCH_KEY: AgentKey = {
  id: '001',
  name: 'agent1',
  ip: 'any',
  key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};

/** A 170-byte logcollector event (queue, location and message). */
export const EVENT_170 = Buffer.from(
  `1:/var/log/auth.log:${'Jan  1 00:00:00 web01 sshd[31337]: Accepted publickey for deploy from 10.20.30.40 port 52144 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0'.padEnd(150, '.')}`,
  'latin1',
).subarray(0, 170);

const IV = Buffer.from('FEDCBA0987654321', 'latin1');

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/**
 * Encode side, TCP frame: length ‖ `!id!#AES:` ‖ AES(`!`s ‖ deflate(md5 ‖ random global:local: ‖ msg)).
 *
 * @param msg - the plaintext.
 * @param aesKey - 32 bytes.
 * @param id - the agent id for the `!id!` header.
 * @param c - the counter.
 * @param random - the 16-bit random field.
 * @param level - zlib level (Wazuh: 9).
 * @returns the frame.
 */
export function bareEncodeFrame(msg: Buffer, aesKey: Buffer, id: string, c: MessageCounter, random: number, level = 9): Buffer {
  const block = Buffer.concat([Buffer.from(`${pad(random, 5)}${pad(c.global, 10)}:${pad(c.local, 4)}:`, 'latin1'), msg]);
  const sum = createHash('md5').update(block).digest('hex');
  const comp = deflateSync(Buffer.concat([Buffer.from(sum, 'latin1'), block]), { level });
  const bangs = ((8 - ((comp.length + 1) % 8)) % 8) + 1;
  const padded = Buffer.concat([Buffer.alloc(bangs, 0x21), comp]);
  const cipher = createCipheriv('aes-256-cbc', aesKey, IV);
  const payload = Buffer.concat([Buffer.from(`!${id}!#AES:`, 'latin1'), cipher.update(padded), cipher.final()]);
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

/** A message decoded by {@link bareDecode}. */
export interface BareDecoded {
  /** Agent id of the header, or '' without one. */
  id: string;
  /** Global counter. */
  global: number;
  /** Local counter. */
  local: number;
  /** The plaintext. */
  message: Buffer;
}

/**
 * Decode side (header, decrypt, strip `!`, inflate, md5, counters).
 *
 * @param payload - a frame payload.
 * @param aesKey - 32 bytes.
 * @returns the decoded message.
 */
export function bareDecode(payload: Buffer, aesKey: Buffer): BareDecoded {
  let off = 0;
  let id = '';
  if (payload[0] === 0x21) {
    const end = payload.indexOf(0x21, 1);
    id = payload.toString('latin1', 1, end);
    off = end + 1;
  }
  if (payload.toString('latin1', off, off + 5) !== '#AES:') throw new Error('bad header');
  const decipher = createDecipheriv('aes-256-cbc', aesKey, IV);
  const plain = Buffer.concat([decipher.update(payload.subarray(off + 5)), decipher.final()]);
  let i = 0;
  while (plain[i] === 0x21) i++;
  const block = inflateSync(plain.subarray(i));
  if (block.toString('latin1', 0, 32) !== createHash('md5').update(block.subarray(32)).digest('hex')) throw new Error('checksum');
  return {
    id,
    global: Number(block.toString('latin1', 37, 47)),
    local: Number(block.toString('latin1', 48, 52)),
    message: block.subarray(53),
  };
}
