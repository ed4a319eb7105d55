/**
 * TCP framing of secure messages (protocol.md 3.2): every payload is preceded by its length as a
 * 4-byte unsigned little-endian integer. UDP carries one payload per datagram and skips this layer.
 *
 * @module
 */
import { ConfigError, DecodeError, EncodeError } from '../errors.js';

/** Largest TCP frame payload either side accepts, in bytes (`OS_MAXSTR`). */
export const MAX_FRAME_SIZE = 65536;

/** Size of the TCP length prefix, in bytes. */
export const FRAME_HEADER_SIZE = 4;

/**
 * Prefixes a payload with its 4-byte little-endian length.
 *
 * @param payload - the secure-message payload (header ‖ ciphertext), or a raw `#ping`/`#pong`.
 * @returns a new Buffer holding the length prefix followed by a copy of `payload`.
 * @throws {@link EncodeError} `ERR_ENCODE_SIZE` when the payload is longer than {@link MAX_FRAME_SIZE}.
 */
export function encodeTcpFrame(payload: Buffer): Buffer {
  checkFramePayload(payload);
  const len = payload.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + len);
  frame.writeUInt32LE(len, 0);
  payload.copy(frame, FRAME_HEADER_SIZE);
  return frame;
}

/**
 * Checks that a payload fits in one TCP frame.
 *
 * @param payload - the payload.
 * @throws {@link ConnectionError} `ERR_MESSAGE_TOO_LARGE` when it is longer than {@link MAX_FRAME_SIZE}.
 */
export function checkFramePayload(payload: Uint8Array): void {
  const len = payload.length;
  if (len > MAX_FRAME_SIZE) {
    throw new EncodeError(`TCP frame payload of ${len} bytes exceeds the ${MAX_FRAME_SIZE}-byte limit`, 'ERR_ENCODE_SIZE');
  }
}

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * Largest frame length accepted, in bytes; a larger announced length is a fatal decode error.
   * @default 65536
   */
  maxFrameSize?: number;
}

/**
 * Reassembles length-prefixed TCP frames from a byte stream.
 *
 * A chunk may hold several frames, the end of one and the start of the next, or only part of the
 * 4-byte header. Complete frames contained in a chunk are returned as views into that chunk (no
 * copy); only a frame that spans chunks is copied, into one buffer of exactly its size. At most one
 * frame plus its header is ever buffered.
 *
 * A frame announcing more than `maxFrameSize` bytes throws
 * {@link DecodeError} `ERR_DECODE_FRAME_TOO_LARGE`; the decoder then stays failed (every later
 * `push` throws the same error) until {@link FrameDecoder.reset}. A zero-length frame is returned as
 * an empty Buffer (the secure-message decoder rejects it).
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder();
 * socket.on('data', (chunk) => {
 *   for (const payload of decoder.push(chunk)) handle(payload);
 * });
 * ```
 */
export class FrameDecoder {
  readonly #maxFrameSize: number;
  /** Partial length prefix. */
  /** Partial length prefix, as a number (no buffer per decoder: a fleet holds thousands). */
  #header = 0;
  #headerLen = 0;
  /** Frame being filled across chunks. */
  #frame: Buffer | undefined = undefined;
  #filled = 0;
  #error: DecodeError | undefined = undefined;

  /**
   * @param opts - `maxFrameSize` (default 65536).
   * @throws {@link ConfigError} `ERR_CONFIG` when `maxFrameSize` is not an integer between 0 and 2^32 − 1.
   */
  constructor(opts?: FrameDecoderOptions) {
    const max = opts?.maxFrameSize ?? MAX_FRAME_SIZE;
    if (!Number.isInteger(max) || max < 0 || max > 0xffffffff) {
      throw new ConfigError(`maxFrameSize must be an integer between 0 and 4294967295, got ${String(max)}`, {
        element: 'maxFrameSize',
        value: max,
      });
    }
    this.#maxFrameSize = max;
  }

  /** Number of bytes held for an incomplete frame (header bytes included). */
  get buffered(): number {
    return this.#headerLen + (this.#frame === undefined ? 0 : FRAME_HEADER_SIZE + this.#filled);
  }

  /**
   * Feeds a chunk of the stream.
   *
   * @param chunk - bytes as read from the socket.
   * @returns the payloads of the frames completed by this chunk, in order (possibly none). They may be
   *   views into `chunk`: copy them if `chunk` is reused.
   * @throws {@link DecodeError} `ERR_DECODE_FRAME_TOO_LARGE` when a frame announces more than `maxFrameSize` bytes.
   */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.decode(chunk, (payload) => {
      out.push(payload);
    });
    return out;
  }

  /**
   * Feeds a chunk and calls `onFrame` for each completed frame, without collecting them in an array.
   * If `onFrame` throws, the exception propagates and the rest of the chunk is lost: the stream is
   * then out of step and the connection should be closed (or {@link FrameDecoder.reset} called).
   *
   * @param chunk - bytes as read from the socket.
   * @param onFrame - receives each payload (possibly a view into `chunk`).
   * @throws {@link DecodeError} `ERR_DECODE_FRAME_TOO_LARGE`, as {@link FrameDecoder.push}. Frames completed
   *   earlier in the same chunk have already been passed to `onFrame`.
   */
  decode(chunk: Buffer, onFrame: (payload: Buffer) => void): void {
    if (this.#error !== undefined) throw this.#error;
    const n = chunk.length;
    let off = 0;

    // 1. Finish a frame that spans chunks.
    const pending = this.#frame;
    if (pending !== undefined) {
      const take = Math.min(pending.length - this.#filled, n);
      chunk.copy(pending, this.#filled, 0, take);
      this.#filled += take;
      off = take;
      if (this.#filled < pending.length) return;
      this.#frame = undefined;
      this.#filled = 0;
      onFrame(pending);
    }

    // 2. Finish a length prefix that spans chunks.
    if (this.#headerLen > 0) {
      while (this.#headerLen < FRAME_HEADER_SIZE && off < n) {
        this.#header += chunk[off++]! * 2 ** (8 * this.#headerLen++);
      }
      if (this.#headerLen < FRAME_HEADER_SIZE) return;
      this.#headerLen = 0;
      const len = this.#checkLength(this.#header);
      this.#header = 0;
      if (n - off >= len) {
        onFrame(chunk.subarray(off, off + len));
        off += len;
      } else {
        this.#startFrame(len, chunk, off);
        return;
      }
    }

    // 3. Whole frames inside this chunk: zero-copy views.
    while (n - off >= FRAME_HEADER_SIZE) {
      const len = this.#checkLength(chunk.readUInt32LE(off));
      const start = off + FRAME_HEADER_SIZE;
      if (n - start >= len) {
        off = start + len;
        onFrame(chunk.subarray(start, off));
      } else {
        this.#startFrame(len, chunk, start);
        return;
      }
    }

    // 4. Keep a partial length prefix (0 to 3 bytes).
    while (off < n) this.#header += chunk[off++]! * 2 ** (8 * this.#headerLen++);
  }

  /** Drops any partial frame and clears a failed state, ready for a new stream. */
  reset(): void {
    this.#header = 0;
    this.#headerLen = 0;
    this.#frame = undefined;
    this.#filled = 0;
    this.#error = undefined;
  }

  #checkLength(len: number): number {
    if (len > this.#maxFrameSize) {
      this.#header = 0;
      this.#headerLen = 0;
      this.#frame = undefined;
      this.#filled = 0;
      this.#error = new DecodeError(
        `TCP frame announces ${len} bytes, more than the ${this.#maxFrameSize}-byte limit`,
        'ERR_DECODE_FRAME_TOO_LARGE',
      );
      throw this.#error;
    }
    return len;
  }

  #startFrame(len: number, chunk: Buffer, from: number): void {
    const frame = Buffer.allocUnsafe(len);
    this.#filled = chunk.copy(frame, 0, from);
    this.#frame = frame;
  }
}
