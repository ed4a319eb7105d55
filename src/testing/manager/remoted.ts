/**
 * The remoted model of the {@link MockManager}: one {@link Remoted.receive} for TCP and UDP that
 * identifies the sender once (`!id!` header or source address), decrypts, checks counters, updates
 * the agent's status and answers (ACK, `#!-err`), with the faults read at one point per message.
 *
 * @module
 */
import { randomBytes, randomInt } from 'node:crypto';
import { DecodeError } from '../../errors.js';
import type { DecodeErrorCode } from '../../errors.js';
import {
  ACK_MESSAGE,
  PONG,
  buildErr,
  buildRequestAck,
  checkCounter,
  decodeSecurePayload,
  deriveEncryptionKey,
  isPing,
  keyIpAllows,
  parseAgentMessage,
  peekAgentId,
  FRAME_HEADER_SIZE,
} from '../../protocol/index.js';
import type { AgentIdHeader, AgentKey, AgentMessage, DecodedSecureMessage, MessageCounter, ParsedKeepalive } from '../../protocol/index.js';
import { aesDecryptMany } from '../../protocol/aes.js';
import { aesCiphertextOf, decodeDecryptedPayload } from '../../protocol/secure.js';
import { unrefTimeout } from '../../clock.js';
import type { TimerHandle } from '../../clock.js';
import { selects } from '../faults.js';
import type { ManagerFaults } from '../faults.js';
import type { ManagerContext } from './context.js';
import type { EventHistory } from './history.js';
import { compareVersion, parseVersion } from './options.js';
import type { Outbox } from './outbox.js';
import type { AgentEntry, Channel, Registry, Session } from './registry.js';
import type { Requests } from './requests.js';
import type { SharedFiles } from './shared-files.js';
import type { ManagerProtocol } from './types.js';

const PONG_PAYLOAD = Buffer.from(PONG, 'latin1');

/** The parts the remoted model works with. */
export interface RemotedParts {
  registry: Registry;
  outbox: Outbox;
  history: EventHistory;
  requests: Requests;
  sharedFiles: SharedFiles;
}

/** Decodes and acts on what agents send. */
export class Remoted {
  readonly #ctx: ManagerContext;
  readonly #registry: Registry;
  readonly #outbox: Outbox;
  readonly #history: EventHistory;
  readonly #requests: Requests;
  readonly #sharedFiles: SharedFiles;
  readonly #delayTimers = new Set<TimerHandle>();

  constructor(ctx: ManagerContext, parts: RemotedParts) {
    this.#ctx = ctx;
    this.#registry = parts.registry;
    this.#outbox = parts.outbox;
    this.#history = parts.history;
    this.#requests = parts.requests;
    this.#sharedFiles = parts.sharedFiles;
  }

  /**
   * The payloads of one TCP read, in order, each as {@link Remoted.receive} takes it, until the
   * connection closes. The AES bodies of those sent with the same `!id!` header are decrypted
   * together first (one call into OpenSSL for the run, instead of one per frame); a payload whose key
   * turns out to be another one by the time it is handled is decrypted again on its own.
   *
   * @param session - the connection.
   * @param payloads - its frame bodies.
   * @param onError - called with what a payload's handling threw (not a decode error: those are rejected).
   */
  receiveMany(session: Session, payloads: readonly Buffer[], onError: (err: unknown) => void): void {
    const n = payloads.length;
    let decrypted: (Buffer | undefined)[] | undefined;
    let keys: (AgentKey | undefined)[] | undefined;
    for (let i = 0; i < n; ) {
      // a run of AES payloads with the same !id! header and a known key
      const head = peekQuietly(payloads[i]!);
      const key = head === undefined ? undefined : this.#ctx.keyStore.get(head.id);
      let end = i + 1;
      if (key !== undefined) {
        while (end < n && sameHeader(payloads[end]!, payloads[i]!, head!.end)) end++;
      }
      if (end - i >= 2) {
        const cts: Buffer[] = [];
        for (let k = i; k < end && cts.length === k - i; k++) {
          const ct = aesCiphertextOf(payloads[k]!, head);
          if (ct !== undefined) cts.push(ct);
        }
        if (cts.length >= 2) {
          const plains = aesDecryptMany(deriveEncryptionKey(key!).aes, cts);
          decrypted ??= new Array<Buffer | undefined>(n);
          keys ??= new Array<AgentKey | undefined>(n);
          for (let k = 0; k < plains.length; k++) {
            decrypted[i + k] = plains[k];
            keys[i + k] = key;
          }
        }
      }
      i = end;
    }
    for (let i = 0; i < n; i++) {
      if (session.closed) return;
      try {
        this.receive(session, payloads[i]!, decrypted?.[i], keys?.[i]);
      } catch (err) {
        onError(err);
      }
    }
  }

  /**
   * One payload from an agent: a TCP frame body or a UDP datagram.
   *
   * @param channel - where it came from (replies go there).
   * @param payload - the payload.
   * @param decrypted - its AES body decrypted already ({@link Remoted.receiveMany}), padding kept.
   * @param decryptedWith - the key that decrypted it: used only if the payload's key is still that one.
   */
  receive(channel: Channel, payload: Buffer, decrypted?: Buffer, decryptedWith?: AgentKey): void {
    const f = this.#ctx.faults;
    if (channel.kind === 'udp' && (!this.#ctx.running || f.refuseConnections)) return;
    if (f.blackhole === true) return;
    if (isPing(payload)) {
      this.#ctx.counters.pings++;
      this.#outbox.send(channel, PONG_PAYLOAD);
      return;
    }
    let header: AgentIdHeader | undefined;
    try {
      header = peekAgentId(payload);
    } catch (err) {
      this.reject(new DecodeError("Bad '!id!' header (1403)", 'ERR_DECODE_FORMAT', { cause: err }), channel, undefined);
      return;
    }
    const key = this.#identify(header, channel, f);
    if (key === undefined || selects(f.blackhole, key.id)) return;
    const agent = this.#registry.entry(key);
    if (channel.kind === 'tcp' && !this.#claim(agent, channel)) return;
    const decoded = this.#decode(payload, key, header, agent, channel, f, decryptedWith === key ? decrypted : undefined);
    if (decoded === undefined) return;
    let reply = true;
    if (channel.kind === 'tcp') {
      const previous = channel.agent;
      if (previous !== undefined && previous !== agent && previous.session === channel) {
        // Another agent's messages on this connection: it no longer owns it.
        previous.session = undefined;
        this.#registry.setLive(previous, false);
      }
      channel.agent = agent;
      channel.messages++;
      reply = !(f.closeAfterMessages > 0 && channel.messages >= f.closeAfterMessages);
    }
    this.#accept(agent, decoded, payload.length + (channel.kind === 'tcp' ? FRAME_HEADER_SIZE : 0), channel, reply, f);
    if (!reply) this.#registry.closeSession(channel as Exclude<Channel, { kind: 'udp' }>);
  }

  /** Counts and reports a rejected payload; closes a TCP connection, as remoted does. */
  reject(err: DecodeError, channel: Channel, agentId: string | undefined): void {
    const c = this.#ctx.counters;
    c.decodeErrors++;
    const code = err.code as DecodeErrorCode;
    this.#ctx.errorsByCode[code] = (this.#ctx.errorsByCode[code] ?? 0) + 1;
    const peer = this.#registry.peer(channel, agentId);
    this.#ctx.opts.logger.debug({ code, agentId, peer: `${peer.remoteAddress}:${peer.remotePort}` }, err.message);
    if (channel.kind === 'tcp') this.#registry.closeSession(channel);
    this.#ctx.emitter.emit('decodeError', err, peer);
  }

  /** Cancels the delayed ACKs. */
  close(): void {
    for (const t of this.#delayTimers) this.#ctx.opts.clock.clearTimeout(t);
    this.#delayTimers.clear();
  }

  /** Finds the key by `!id!` header or source address (protocol.md 3.3 steps 1–2). */
  #identify(header: AgentIdHeader | undefined, channel: Channel, f: ManagerFaults): AgentKey | undefined {
    const sourceIp = channel.address;
    const keyStore = this.#ctx.keyStore;
    if (header !== undefined) {
      const id = header.id;
      const key = keyStore.get(id);
      if (key === undefined || !keyIpAllows(key.ip, sourceIp) || f.rejectKeys.has(id)) {
        this.#ctx.counters.unknownAgents++;
        this.reject(new DecodeError(`(1408): Invalid ID ${id} for the source ip: '${sourceIp}'`, 'ERR_DECODE_UNKNOWN_AGENT', { agentId: id }), channel, id);
        return undefined;
      }
      return key;
    }
    const key = keyStore.findByIp(sourceIp);
    if (key === undefined || f.rejectKeys.has(key.id)) {
      this.#ctx.counters.unknownAgents++;
      this.reject(
        new DecodeError(`(1213): Message from '${sourceIp}' not allowed. Cannot find the ID of the agent.`, 'ERR_DECODE_UNKNOWN_AGENT', { agentId: key?.id }),
        channel,
        key?.id,
      );
      return undefined;
    }
    return key;
  }

  /**
   * Connection overtake (protocol.md 8.2), checked before decryption as remoted does: a second
   * connection takes over from a socket silent longer than `connectionOvertakeTime`, else it is closed.
   *
   * @returns whether this connection may carry the agent's messages.
   */
  #claim(agent: AgentEntry, session: Exclude<Channel, { kind: 'udp' }>): boolean {
    const old = agent.session;
    if (old === undefined || old === session || old.closed) return true;
    const { overtakeTime, clock, logger } = this.#ctx.opts;
    const silent = clock.now() - agent.lastSeen;
    if (overtakeTime > 0 && silent > overtakeTime) {
      this.#ctx.counters.overtakes++;
      logger.debug({ agentId: agent.key.id, old: old.id, conn: session.id }, 'connection overtake: closing the silent socket');
      this.#registry.closeSession(old);
      return true;
    }
    this.#ctx.counters.keyInUseRejections++;
    logger.warn({ agentId: agent.key.id, conn: session.id }, `Agent key already in use: agent ID '${agent.key.id}'`);
    this.#registry.closeSession(session);
    return false;
  }

  /** Decrypts and checks counters; on failure rejects and returns undefined. */
  #decode(
    payload: Buffer,
    key: AgentKey,
    header: AgentIdHeader | undefined,
    agent: AgentEntry,
    channel: Channel,
    f: ManagerFaults,
    decrypted: Buffer | undefined,
  ): DecodedSecureMessage | undefined {
    let decoded: DecodedSecureMessage;
    try {
      decoded = decrypted === undefined ? decodeSecurePayload(payload, key, header) : decodeDecryptedPayload(payload, key, header, decrypted);
    } catch (err) {
      const e = err instanceof DecodeError ? err : new DecodeError(String(err), 'ERR_DECODE_FORMAT', { agentId: key.id, cause: err });
      this.reject(e, channel, key.id);
      return undefined;
    }
    const got: MessageCounter = { global: decoded.global, local: decoded.local };
    if (f.verifyCounters) {
      const verdict = checkCounter(agent.counter, got);
      if (verdict !== 'ok') {
        this.#ctx.counters.counterRejections++;
        const msg =
          verdict === 'duplicate'
            ? `(1407): Duplicated counter for '${key.name}'.`
            : `(1404): Authentication error. Counter went backwards for '${key.name}'.`;
        this.reject(new DecodeError(msg, 'ERR_DECODE_COUNTER', { agentId: key.id }), channel, key.id);
        return undefined;
      }
    }
    agent.counter = got;
    return decoded;
  }

  /** A valid message: update the agent and act on it. */
  #accept(agent: AgentEntry, decoded: DecodedSecureMessage, wireBytes: number, channel: Channel, reply: boolean, f: ManagerFaults): void {
    const { clock, logger } = this.#ctx.opts;
    agent.lastSeen = clock.now();
    agent.messages++;
    agent.bytes += wireBytes;
    agent.method = decoded.method;
    this.#ctx.counters.messagesReceived++;

    let msg: AgentMessage;
    try {
      msg = parseAgentMessage(decoded.message);
    } catch (err) {
      this.#ctx.counters.invalidMessages++;
      logger.debug({ agentId: agent.key.id, err: (err as Error).message }, 'invalid message dropped');
      return;
    }
    if (msg.type === 'event') {
      this.#onEvent(agent, msg.queue, msg.location, msg.message, channel.kind);
      return;
    }

    this.#registry.register(agent, channel);
    // the text as received: kept for a keepalive, and given to 'control' listeners when there are any
    const emitter = this.#ctx.emitter;
    const listened = emitter.listenerCount('control') > 0;
    if (msg.type === 'keepalive' || listened) {
      const raw = decoded.message.toString('utf8');
      if (msg.type === 'keepalive') agent.keepaliveText = raw;
      if (listened) emitter.emit('control', agent.key.id, msg, raw);
    }
    switch (msg.type) {
      case 'startup':
        this.#onStartup(agent, msg, reply, f);
        break;
      case 'keepalive':
        this.#onKeepalive(agent, msg.info, reply, f);
        break;
      case 'shutdown':
        this.#onShutdown(agent, channel.kind);
        break;
      case 'request_reply':
        if (channel.kind === 'udp') this.#outbox.sendControl(agent, buildRequestAck(msg.counter));
        this.#requests.onReply(agent, msg.counter, msg.response);
        break;
      case 'request_ack':
        this.#requests.onAck(agent, msg.counter);
        break;
      case 'invalid_control':
        this.#ctx.counters.invalidControl++;
        logger.debug({ agentId: agent.key.id }, 'Invalid message from agent');
        break;
    }
  }

  #onStartup(agent: AgentEntry, msg: Extract<AgentMessage, { type: 'startup' }>, reply: boolean, f: ManagerFaults): void {
    agent.lastControl = this.#ctx.opts.clock.now();
    const vf = f.versionError;
    let refusal: string | undefined;
    if (selects(vf, agent.key.id)) {
      refusal = typeof vf === 'string' ? vf : 'Agent version must be lower or equal to manager version';
      agent.statusCode = 'invalid_version';
    } else if (msg.versionError === 'missing') {
      refusal = "Couldn't retrieve version";
      agent.statusCode = 'version_unreadable';
    } else if (msg.version !== undefined) {
      const v = parseVersion(msg.version);
      if (v === undefined) {
        refusal = "Couldn't retrieve version";
        agent.statusCode = 'version_unreadable';
      } else if (compareVersion(v, this.#ctx.opts.managerVersion) > 0) {
        refusal = 'Agent version must be lower or equal to manager version';
        agent.statusCode = 'invalid_version';
      }
    }
    if (refusal !== undefined) {
      this.#ctx.opts.logger.debug({ agentId: agent.key.id, version: msg.version }, `startup refused: ${refusal}`);
      if (reply) this.#outbox.sendControl(agent, buildErr(refusal));
      return;
    }
    agent.statusCode = undefined;
    if (msg.version !== undefined) agent.version = msg.version;
    this.#registry.setStatus(agent, 'pending');
    if (reply) this.#ack(agent, f);
  }

  #onKeepalive(agent: AgentEntry, info: ParsedKeepalive, reply: boolean, f: ManagerFaults): void {
    const now = this.#ctx.opts.clock.now();
    agent.lastControl = now;
    agent.lastKeepalive = now;
    agent.keepalive = info;
    if (info.version !== undefined) agent.version = info.version;
    this.#registry.setStatus(agent, 'active');
    if (!reply) return;
    this.#ack(agent, f);
    this.#sharedFiles.afterKeepalive(agent, info.mergedSum);
  }

  #onShutdown(agent: AgentEntry, protocol: ManagerProtocol): void {
    this.#registry.setStatus(agent, 'disconnected');
    if (protocol === 'udp') this.#registry.setLive(agent, false);
    const k = agent.key;
    this.#history.record({
      agentId: k.id,
      agentName: k.name,
      queue: '1',
      location: 'wazuh-remoted',
      message: `ossec: Agent stopped: '${k.name}->${k.ip}'.`,
      node: this.#ctx.opts.name,
      receivedAt: this.#ctx.opts.clock.now(),
      protocol,
      generated: true,
    });
  }

  #onEvent(agent: AgentEntry, queue: string, location: string, message: Buffer, protocol: ManagerProtocol): void {
    if (location.startsWith('keepalive')) return;
    agent.events++;
    this.#ctx.counters.eventsReceived++;
    this.#history.record({
      agentId: agent.key.id,
      agentName: agent.key.name,
      queue,
      location,
      message: message.toString('utf8'),
      node: this.#ctx.opts.name,
      // the time #accept read for this message: one clock read per event
      receivedAt: agent.lastSeen,
      protocol,
      generated: false,
    });
  }

  /** Answers a startup or keepalive: the ACK, or what the ACK faults put in its place. */
  #ack(agent: AgentEntry, f: ManagerFaults): void {
    const id = agent.key.id;
    if (selects(f.withholdAcks, id)) return;
    if (selects(f.corruptFrames, id)) {
      this.#sendCorrupt(agent, f);
      return;
    }
    if (f.ackDelayMs > 0) {
      const clock = this.#ctx.opts.clock;
      const handle = unrefTimeout(
        clock,
        () => {
          this.#delayTimers.delete(handle);
          if (this.#ctx.running && this.#outbox.sendControl(agent, ACK_MESSAGE)) this.#ctx.counters.acksSent++;
        },
        f.ackDelayMs,
      );
      this.#delayTimers.add(handle);
      return;
    }
    if (this.#outbox.sendControl(agent, ACK_MESSAGE)) this.#ctx.counters.acksSent++;
  }

  #sendCorrupt(agent: AgentEntry, f: ManagerFaults): void {
    const ch = this.#registry.channelOf(agent);
    if (ch === undefined) return;
    const mode = f.corruptMode;
    if (mode === 'oversize' && ch.kind === 'tcp') {
      ch.conn.sendOversizeFrame();
      return;
    }
    let payload: Buffer;
    if (mode === 'ciphertext') {
      const token = Buffer.from(agent.method === 'blowfish' ? ':' : '#AES:', 'latin1');
      payload = Buffer.concat([token, randomBytes(48)]);
    } else {
      payload = randomBytes(16 + randomInt(0, 64));
    }
    this.#outbox.send(ch, payload);
  }
}

/** The `!id!` header of a payload, or undefined when it has none or a bad one (its own handling reports that). */
function peekQuietly(payload: Buffer): AgentIdHeader | undefined {
  try {
    return peekAgentId(payload);
  } catch {
    return undefined;
  }
}

/** Whether `payload` starts with the same `len` header bytes as `first`. */
function sameHeader(payload: Buffer, first: Buffer, len: number): boolean {
  if (payload.length < len) return false;
  for (let i = 0; i < len; i++) if (payload[i] !== first[i]) return false;
  return true;
}
