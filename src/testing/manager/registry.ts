/**
 * The {@link MockManager}'s registry: one entry per agent seen and one session per TCP connection,
 * the status model (protocol.md 8.5) with its counts, reply channels (8.3), and the one housekeeping
 * timer that expires statuses and closes slow connections.
 *
 * @module
 */
import { unrefTimeout } from '../../clock.js';
import type { DecodeError } from '../../errors.js';
import type { TimerHandle } from '../../clock.js';
import type { AgentKey, CryptoMethod, MessageCounter, ParsedKeepalive } from '../../protocol/index.js';
import type { DatagramPeer, ServerConnection } from '../../transport/listener.js';
import { debugEnabled } from './context.js';
import type { ManagerContext } from './context.js';
import type { AgentRecord, AgentStats, AgentStatus, ManagerProtocol, PeerInfo } from './types.js';

/** What a {@link Session}'s connection events go to (the manager): one object for every session. */
export interface SessionSink {
  /** A frame payload arrived. */
  onPayload(session: Session, payload: Buffer): void;
  /** The frame payloads of one read arrived. */
  onPayloads(session: Session, payloads: Buffer[]): void;
  /** The connection failed to decode its stream (a frame too large). */
  onError(session: Session, err: DecodeError): void;
  /** The connection closed. */
  onClose(session: Session): void;
}

/** One accepted TCP connection, as a reply channel. */
export class Session {
  readonly kind = 'tcp';
  /** The agent whose valid messages this connection carries. */
  agent: AgentEntry | undefined;
  /** Valid messages received on this connection. */
  messages = 0;

  /**
   * @param conn - the connection.
   * @param sink - where its events go: registered with this session as their context, so that a
   *   connection costs no closures.
   */
  constructor(
    readonly conn: ServerConnection,
    readonly sink: SessionSink,
  ) {
    conn.on('payload', sessionPayload, this);
    conn.on('payloads', sessionPayloads, this);
    conn.on('error', sessionError, this);
    conn.on('close', sessionClose, this);
  }

  /** Connection number. */
  get id(): number {
    return this.conn.id;
  }

  /** Peer address. */
  get address(): string {
    return this.conn.remoteAddress;
  }

  /** Peer port. */
  get port(): number {
    return this.conn.remotePort;
  }

  /** Whether the connection is closed or closing. */
  get closed(): boolean {
    return this.conn.closed;
  }
}

function sessionPayload(this: Session, payload: Buffer): void {
  this.sink.onPayload(this, payload);
}

function sessionPayloads(this: Session, payloads: Buffer[]): void {
  this.sink.onPayloads(this, payloads);
}

function sessionError(this: Session, err: DecodeError): void {
  this.sink.onError(this, err);
}

function sessionClose(this: Session): void {
  this.sink.onClose(this);
}

/** A UDP peer, as a reply channel. */
export interface UdpChannel extends DatagramPeer {
  readonly kind: 'udp';
}

/** Where a message came from and where replies go: a TCP session or a UDP peer. */
export type Channel = Session | UdpChannel;

/** What the manager keeps about one agent, kept small: 10 000 agents on one manager must be cheap. */
export class AgentEntry {
  status: AgentStatus = 'never_connected';
  live = false;
  /** The registered TCP reply channel. */
  session: Session | undefined = undefined;
  /** The registered UDP reply channel. */
  udpPeer: UdpChannel | undefined = undefined;
  protocol: ManagerProtocol | undefined = undefined;
  method: CryptoMethod | undefined = undefined;
  version: string | undefined = undefined;
  statusCode: AgentRecord['statusCode'] = undefined;
  keepalive: ParsedKeepalive | undefined = undefined;
  /** The last keepalive as received. */
  keepaliveText: string | undefined = undefined;
  statusSince = 0;
  lastSeen = 0;
  lastControl = 0;
  lastKeepalive = 0;
  connectedAt = 0;
  events = 0;
  messages = 0;
  bytes = 0;
  sessions = 0;
  counter: MessageCounter | undefined = undefined;
  pushing = false;

  constructor(readonly key: AgentKey) {}
}

/** Agents and TCP sessions of one manager. */
export class Registry {
  readonly #ctx: ManagerContext;
  readonly #agents = new Map<string, AgentEntry>();
  readonly #sessions = new Set<Session>();
  readonly #statusCounts = { pending: 0, active: 0, disconnected: 0 };
  #liveCount = 0;
  #sweepTimer: TimerHandle | undefined;
  /** Called after any status or liveness change (the manager re-checks its waiters). */
  readonly #onChange: () => void;
  /** Called when an agent's TCP reply channel closed (its requests fail). */
  readonly #onSessionLost: (agent: AgentEntry) => void;

  constructor(ctx: ManagerContext, hooks: { onChange: () => void; onSessionLost: (agent: AgentEntry) => void }) {
    this.#ctx = ctx;
    this.#onChange = hooks.onChange;
    this.#onSessionLost = hooks.onSessionLost;
  }

  /** Agents with a live connection. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** Open TCP sessions. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * @param status - a status other than `never_connected`.
   * @returns how many agents hold it.
   */
  countOf(status: Exclude<AgentStatus, 'never_connected'>): number {
    return this.#statusCounts[status];
  }

  /** @returns the entry of an agent id, if it was seen. */
  get(id: string): AgentEntry | undefined {
    return this.#agents.get(id);
  }

  /** @returns every entry. */
  entries(): IterableIterator<AgentEntry> {
    return this.#agents.values();
  }

  /** The entry for a key, created on first sight (and replaced when the key changed). */
  entry(key: AgentKey): AgentEntry {
    let s = this.#agents.get(key.id);
    if (s === undefined || s.key !== key) {
      if (s !== undefined) this.forget(key.id);
      s = new AgentEntry(key);
      this.#agents.set(key.id, s);
    }
    return s;
  }

  /** Drops an agent (its key was removed): its connection is closed. */
  forget(id: string): void {
    const s = this.#agents.get(id);
    if (s === undefined) return;
    if (s.session !== undefined) this.closeSession(s.session);
    this.setLive(s, false);
    if (s.status !== 'never_connected') this.#statusCounts[s.status]--;
    this.#agents.delete(id);
  }

  /** Changes an agent's status: counts, logs `from -> to`, emits `agentStatus`. */
  setStatus(agent: AgentEntry, to: AgentStatus): void {
    const from = agent.status;
    if (from === to) return;
    if (from !== 'never_connected') this.#statusCounts[from]--;
    if (to !== 'never_connected') this.#statusCounts[to]++;
    agent.status = to;
    agent.statusSince = this.#ctx.opts.clock.now();
    const logger = this.#ctx.opts.logger;
    if (debugEnabled(logger)) logger.debug({ agentId: agent.key.id }, `agent ${from} -> ${to}`);
    this.#ctx.emitter.emit('agentStatus', agent.key.id, to, from);
    this.#onChange();
  }

  /** Changes whether an agent has a live connection; emits `agentConnection`. */
  setLive(agent: AgentEntry, live: boolean): void {
    if (agent.live === live) return;
    agent.live = live;
    this.#liveCount += live ? 1 : -1;
    this.#ctx.emitter.emit('agentConnection', agent.key.id, live);
    this.#onChange();
  }

  /** Records the agent's reply channel (control messages only, protocol.md 8.3). */
  register(agent: AgentEntry, channel: Channel): void {
    const now = this.#ctx.opts.clock.now();
    if (channel.kind === 'tcp') {
      if (agent.session !== channel) {
        agent.session = channel;
        agent.udpPeer = undefined;
        agent.protocol = 'tcp';
        agent.sessions++;
        agent.connectedAt = now;
      }
    } else {
      const p = agent.udpPeer;
      if (p === undefined || p.address !== channel.address || p.port !== channel.port || !agent.live) {
        agent.udpPeer = channel;
        agent.session = undefined;
        agent.protocol = 'udp';
        agent.sessions++;
        agent.connectedAt = now;
      }
    }
    this.setLive(agent, true);
  }

  /** Where the manager can send to an agent now (protocol.md 8.3), or undefined. */
  channelOf(agent: AgentEntry): Channel | undefined {
    // Never heard from (messages counts from the first valid one: `lastSeen` 0 is a valid time under fake timers).
    if (agent.messages === 0 || this.#ctx.opts.clock.now() - agent.lastSeen > this.#ctx.opts.disconnectionTime) return undefined;
    if (agent.session !== undefined) return agent.session.closed ? undefined : agent.session;
    if (agent.udpPeer !== undefined && agent.live) return agent.udpPeer;
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Sessions

  /** A new TCP connection; its events go to `sink`. */
  open(conn: ServerConnection, sink: SessionSink): Session {
    const s = new Session(conn, sink);
    this.#sessions.add(s);
    this.#ctx.counters.connectionsTotal++;
    return s;
  }

  /** Closes a session (RST with `reset`); counted once. */
  closeSession(session: Session, reset = false): void {
    if (session.closed) return;
    this.#ctx.counters.connectionsClosed++;
    if (reset) session.conn.reset();
    else session.conn.destroy();
  }

  /** A session's connection closed: its agent loses the reply channel. */
  closed(session: Session): void {
    this.#sessions.delete(session);
    const agent = session.agent;
    if (agent !== undefined && agent.session === session) {
      agent.session = undefined;
      this.setLive(agent, false);
      if (this.#ctx.opts.disconnectOnClose && this.#ctx.running) this.setStatus(agent, 'disconnected');
      this.#onSessionLost(agent);
    }
  }

  /** @returns the open sessions. */
  sessions(): Session[] {
    return [...this.#sessions];
  }

  /** A connection's peer, in event payloads. */
  peer(channel: Channel, agentId?: string): PeerInfo {
    if (channel.kind === 'tcp') {
      return { connectionId: channel.id, protocol: 'tcp', remoteAddress: channel.address, remotePort: channel.port, agentId: agentId ?? channel.agent?.key.id };
    }
    return { connectionId: 0, protocol: 'udp', remoteAddress: channel.address, remotePort: channel.port, agentId };
  }

  // -------------------------------------------------------------------------------------------
  // Housekeeping: one timer for every agent and connection

  /** Starts the housekeeping timer. */
  startSweep(): void {
    this.#sweepTimer = unrefTimeout(this.#ctx.opts.clock, () => this.#sweep(), this.#ctx.opts.sweepPeriod);
  }

  /** Stops the housekeeping timer. */
  stopSweep(): void {
    this.#ctx.opts.clock.clearTimeout(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  #sweep(): void {
    this.#sweepTimer = undefined;
    if (!this.#ctx.running) return;
    const { clock, frameDeadline, disconnectionTime, logger } = this.#ctx.opts;
    const mono = clock.monotonic();
    for (const s of this.#sessions) {
      const since = s.conn.partialSince;
      if (since !== 0 && mono - since > frameDeadline && !s.closed) {
        this.#ctx.counters.slowConnectionsClosed++;
        logger.debug({ conn: s.id }, 'closing a connection that held a partial frame too long');
        this.closeSession(s);
      }
    }
    if (this.#statusCounts.active + this.#statusCounts.pending > 0 || this.#liveCount > 0) {
      const limit = clock.now() - disconnectionTime;
      for (const s of this.#agents.values()) {
        if ((s.status === 'active' || s.status === 'pending') && s.lastControl < limit) this.setStatus(s, 'disconnected');
        if (s.live && s.protocol === 'udp' && s.lastSeen < limit) this.setLive(s, false);
      }
    }
    this.startSweep();
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots

  /** The public record of a key (and its entry, when the agent was seen). */
  record(k: AgentKey, s: AgentEntry | undefined): AgentRecord {
    const ka = s?.keepalive;
    return {
      id: k.id,
      name: k.name,
      ip: k.ip,
      node: this.#ctx.opts.name,
      status: s?.status ?? 'never_connected',
      connected: s?.live ?? false,
      statusCode: s?.statusCode,
      protocol: s?.protocol,
      method: s?.method,
      version: s?.version,
      uname: ka?.uname,
      keepaliveText: s?.keepaliveText,
      os: ka?.os,
      labels: ka?.labels ?? [],
      mergedSum: ka?.mergedSum,
      configSum: ka?.agentConfigSum,
      agentIp: ka?.agentIp,
      group: this.#ctx.keyStore.groupsOf(k.id)[0] ?? 'default',
      remoteAddress: s?.session?.address ?? s?.udpPeer?.address,
      remotePort: s?.session?.port ?? s?.udpPeer?.port,
      lastSeen: s !== undefined && s.messages > 0 ? s.lastSeen : undefined,
      lastKeepalive: s?.keepalive !== undefined ? s.lastKeepalive : undefined,
      connectedAt: s !== undefined && s.sessions > 0 ? s.connectedAt : undefined,
      events: s?.events ?? 0,
      messages: s?.messages ?? 0,
      bytes: s?.bytes ?? 0,
      sessions: s?.sessions ?? 0,
      counter: s?.counter,
    };
  }

  /** Per-agent counters for every agent seen. */
  agentStats(): Record<string, AgentStats> {
    const agents: Record<string, AgentStats> = {};
    for (const s of this.#agents.values()) {
      agents[s.key.id] = {
        events: s.events,
        bytes: s.bytes,
        lastKeepalive: s.keepalive !== undefined ? s.lastKeepalive : undefined,
        node: this.#ctx.opts.name,
        status: s.status,
        method: s.method,
        connected: s.live,
        protocol: s.protocol,
        sessions: s.sessions,
      };
    }
    return agents;
  }
}
