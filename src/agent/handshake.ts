/**
 * The wait for the startup ACK (protocol.md 5.2): exactly one message is read after the startup
 * and must be `#!-agent ack `, within `handshakeTimeout`.
 *
 * @module
 */
import { unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { ResolvedServer } from '../config/options.js';
import { ConnectionError } from '../errors.js';
import type { AgentlinkError } from '../errors.js';
import type { ManagerMessage } from '../protocol/messages.js';
import { serverRef } from './connection.js';

/** The settle functions of the promise built last, handed from {@link capture} to its constructor. */
let capturedResolve: (() => void) | undefined;
let capturedReject: ((error: AgentlinkError) => void) | undefined;

/** One executor for every handshake's promise (an agent fleet runs thousands a second). */
function capture(resolve: () => void, reject: (error: AgentlinkError) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

function ignore(): void {}

/**
 * One pending handshake: {@link Handshake.acked} resolves on the ACK and rejects on `#!-err`, any
 * other reply, the deadline, or {@link Handshake.fail}. Owns one unref'd timer, cleared when it settles.
 */
export class Handshake {
  /** Settles once: resolved by the ACK, rejected with the reason otherwise. */
  readonly acked: Promise<void>;
  readonly #server: ResolvedServer;
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  readonly #resolve: () => void;
  readonly #reject: (error: AgentlinkError) => void;

  /**
   * @param server - the server the startup went to.
   * @param timeoutMs - `handshakeTimeout`.
   * @param clock - clock of the deadline.
   */
  constructor(server: ResolvedServer, timeoutMs: number, clock: Clock) {
    this.#server = server;
    this.#clock = clock;
    this.acked = new Promise<void>(capture);
    this.#resolve = capturedResolve!;
    this.#reject = capturedReject!;
    capturedResolve = capturedReject = undefined;
    this.acked.catch(ignore); // a failure before anyone awaits is not an unhandled rejection
    this.#timer = unrefTimeout(
      clock,
      () => {
        this.#timer = undefined;
        this.fail(
          new ConnectionError(`No ACK from [${server.address}]:${server.port}/${server.protocol} within ${timeoutMs} ms`, 'ERR_HANDSHAKE_TIMEOUT', {
            server: serverRef(server),
          }),
        );
      },
      timeoutMs,
    );
  }

  /**
   * The reply to the startup.
   *
   * @param msg - the parsed reply.
   * @returns true when it was the ACK.
   */
  reply(msg: ManagerMessage): boolean {
    const server = serverRef(this.#server);
    if (msg.type === 'ack') {
      this.#clear();
      this.#resolve();
      return true;
    }
    if (msg.type === 'err') {
      this.fail(new ConnectionError(`The manager rejected the startup: ${msg.message}`, 'ERR_HANDSHAKE_REJECTED', { server, managerMessage: msg.message }));
    } else {
      this.fail(new ConnectionError(`Unexpected reply to the startup message (${msg.type})`, 'ERR_HANDSHAKE_UNEXPECTED', { server }));
    }
    return false;
  }

  /** The reply decrypted but its request or file header is malformed. */
  malformed(): void {
    this.fail(new ConnectionError('Unexpected reply to the startup message', 'ERR_HANDSHAKE_UNEXPECTED', { server: serverRef(this.#server) }));
  }

  /**
   * Ends the wait with an error (connection closed, corrupt frame, client stopped). Later calls do nothing.
   *
   * @param error - the reason.
   */
  fail(error: AgentlinkError): void {
    this.#clear();
    this.#reject(error);
  }

  #clear(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
