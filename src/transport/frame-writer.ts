/**
 * Coalesced framed writes: every payload sent on a TCP socket during one turn of the event loop
 * leaves in one `socket.write()` (one system call), framed with its 4-byte length, at the end of
 * that turn. Both ends of a TCP connection use it: the agent's transport and the mock manager's
 * connections.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { FRAME_HEADER_SIZE, checkFramePayload } from '../protocol/framing.js';

/**
 * Frames and batches the payloads written to one socket. `send()` queues the payload and, for the
 * first payload of a turn, schedules a flush with `process.nextTick`: the batch leaves once the code
 * that is running returns, before any I/O, so nothing waits longer than the current turn. The flush
 * writes one buffer holding every queued frame in order. `flush()` forces it (before a direct write,
 * an `end()`), `discard()` drops what is queued (before a reset).
 *
 * @internal
 */
export class FrameWriter {
  readonly #socket: Socket;
  readonly #onWritten: (() => void) | undefined;
  readonly #pending: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;

  /**
   * @param socket - the connected socket to write to.
   * @param onWritten - told each time a flushed batch has been handed to the kernel.
   */
  constructor(socket: Socket, onWritten?: () => void) {
    this.#socket = socket;
    this.#onWritten = onWritten;
  }

  /** Bytes queued here and not yet handed to the socket (frame headers included). */
  get pending(): number {
    return this.#bytes;
  }

  /**
   * Queues one payload as one frame.
   *
   * @param payload - the payload, at most 65536 bytes. It must not change until the flush.
   * @returns false when the socket's buffer is above its high-water mark (the frame is still sent).
   * @throws {@link ConnectionError} `ERR_MESSAGE_TOO_LARGE` for a payload above 65536 bytes (nothing queued).
   */
  send(payload: Buffer): boolean {
    checkFramePayload(payload);
    this.#pending.push(payload);
    this.#bytes += FRAME_HEADER_SIZE + payload.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(flushWriter, this);
    }
    return this.#socket.writableLength + this.#bytes <= this.#socket.writableHighWaterMark;
  }

  /** Hands every queued frame to the socket now, in one write. No effect when nothing is queued or the socket is gone. */
  flush(): void {
    const n = this.#pending.length;
    if (n === 0) return;
    const pending = this.#pending;
    const total = this.#bytes;
    this.#bytes = 0;
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) {
      pending.length = 0;
      return;
    }
    const out = Buffer.allocUnsafe(total);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const p = pending[i]!;
      out.writeUInt32LE(p.length, off);
      out.set(p, off + FRAME_HEADER_SIZE);
      off += FRAME_HEADER_SIZE + p.length;
    }
    pending.length = 0;
    if (this.#onWritten === undefined) socket.write(out);
    else socket.write(out, this.#onWritten);
  }

  /** Drops every queued frame (the connection is being reset). */
  discard(): void {
    this.#pending.length = 0;
    this.#bytes = 0;
  }

  /** Runs the scheduled flush. */
  scheduledFlush(): void {
    this.#scheduled = false;
    this.flush();
  }
}

function flushWriter(writer: FrameWriter): void {
  writer.scheduledFlush();
}
