import { describe, expect, it } from 'vitest';
import { DecodeError, EncodeError, FrameDecoder, MAX_FRAME_SIZE, encodeTcpFrame } from '../../../src/index.js';
import { V, hex } from './vectors.js';

/** Independent frame builder: 4-byte LE length + payload. */
function frame(payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE(payload.length);
  return Buffer.concat([h, payload]);
}

const payloads = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from('world!'), Buffer.alloc(300, 7)];
const stream = Buffer.concat(payloads.map(frame));

function collect(d: FrameDecoder, chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...d.push(c));
  return out;
}

describe('encodeTcpFrame', () => {
  it('prefixes the payload with its little-endian length', () => {
    expect(encodeTcpFrame(Buffer.from('abc')).toString('hex')).toBe('03000000616263');
    expect(encodeTcpFrame(Buffer.alloc(0)).toString('hex')).toBe('00000000');
  });

  it('accepts exactly 65536 bytes and rejects one more with the codec error ERR_ENCODE_SIZE', () => {
    expect(encodeTcpFrame(Buffer.alloc(MAX_FRAME_SIZE)).readUInt32LE(0)).toBe(65536);
    let err: unknown;
    try {
      encodeTcpFrame(Buffer.alloc(MAX_FRAME_SIZE + 1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).code).toBe('ERR_ENCODE_SIZE');
  });
});

describe('FrameDecoder', () => {
  it('returns every frame of a stream delivered in one chunk', () => {
    expect(collect(new FrameDecoder(), [stream])).toEqual(payloads);
  });

  it('returns the same frames when the stream is split in two at every byte boundary', () => {
    const d = new FrameDecoder();
    for (let i = 0; i <= stream.length; i++) {
      expect(collect(d, [stream.subarray(0, i), stream.subarray(i)])).toEqual(payloads);
      expect(d.buffered).toBe(0);
    }
  });

  it('returns the same frames when the stream is fed byte by byte', () => {
    const d = new FrameDecoder();
    const chunks = [...stream].map((b) => Buffer.from([b]));
    expect(collect(d, chunks)).toEqual(payloads);
  });

  it('returns a zero-length frame as an empty buffer', () => {
    expect(new FrameDecoder().push(Buffer.alloc(4))).toEqual([Buffer.alloc(0)]);
  });

  it('reports how many bytes it holds for an incomplete frame', () => {
    const d = new FrameDecoder();
    d.push(stream.subarray(0, 2));
    expect(d.buffered).toBe(2);
    d.push(stream.subarray(2, 7));
    expect(d.buffered).toBe(7);
    d.push(stream.subarray(7, 9));
    expect(d.buffered).toBe(0);
  });

  it('rejects a length above 65536 with ERR_DECODE_FRAME_TOO_LARGE and stays failed until reset', () => {
    const d = new FrameDecoder();
    const bad = Buffer.from([0x01, 0x00, 0x01, 0x00]); // 65537
    expect(() => d.push(bad)).toThrow(DecodeError);
    try {
      d.push(bad);
    } catch (e) {
      expect((e as DecodeError).code).toBe('ERR_DECODE_FRAME_TOO_LARGE');
      expect((e as DecodeError).message).toContain('65537');
    }
    expect(() => d.push(frame(Buffer.from('x')))).toThrow(DecodeError);
    d.reset();
    expect(d.push(frame(Buffer.from('x')))).toEqual([Buffer.from('x')]);
  });

  it('accepts a frame of exactly 65536 bytes', () => {
    const big = Buffer.alloc(65536, 1);
    const f = frame(big);
    const d = new FrameDecoder();
    expect(collect(d, [f.subarray(0, 1000), f.subarray(1000)])).toEqual([big]);
  });

  it('honours a smaller maxFrameSize', () => {
    const d = new FrameDecoder({ maxFrameSize: 4 });
    expect(d.push(frame(Buffer.from('abcd')))).toHaveLength(1);
    expect(() => d.push(frame(Buffer.from('abcde')))).toThrow(DecodeError);
  });

  it('delivers frames through the callback form, in order', () => {
    const seen: string[] = [];
    new FrameDecoder().decode(stream, (p) => seen.push(p.toString('latin1')));
    expect(seen).toEqual(payloads.map((p) => p.toString('latin1')));
  });
});

describe('FrameDecoder on the vector TCP frames', () => {
  for (const v of V.vectors) {
    it(`${v.id}: yields the payload when the frame is split at every byte boundary and fed byte by byte`, () => {
      const f = hex(v.expected.tcp_frame_hex);
      const payload = hex(v.expected.payload_hex);
      const d = new FrameDecoder();
      for (let i = 0; i <= f.length; i++) {
        expect(collect(d, [f.subarray(0, i), f.subarray(i)])).toEqual([payload]);
      }
      expect(collect(d, [...f].map((b) => Buffer.from([b])))).toEqual([payload]);
      expect(d.buffered).toBe(0);
    });
  }

  it('yields every payload of all vector frames concatenated, split at every boundary into three chunks', () => {
    const frames = V.vectors.map((v) => hex(v.expected.tcp_frame_hex));
    const all = Buffer.concat(frames);
    const expected = V.vectors.map((v) => hex(v.expected.payload_hex));
    const d = new FrameDecoder();
    expect(collect(d, [all])).toEqual(expected);
    for (let i = 0; i <= all.length; i += 7) {
      const j = Math.min(all.length, i + 61);
      expect(collect(d, [all.subarray(0, i), all.subarray(i, j), all.subarray(j)])).toEqual(expected);
    }
  });
});
