/**
 * A mock wazuh-authd (enrollment service, protocol.md 7): a TLS listener on 127.0.0.1 that parses
 * enrollment requests with the SDK's own codec, applies authd's duplicate and replacement rules
 * (7.5), and adds new keys to a shared {@link KeyStore} so a mock manager accepts them at once.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { createServer } from 'node:tls';
import type { SecureVersion, Server as TlsServer, TLSSocket } from 'node:tls';
import { EventEmitter } from 'eventemitter3';
import { systemClock, unrefTimeout } from '../clock.js';
import type { Clock, TimerHandle } from '../clock.js';
import { ConfigError, StateError, toListenError } from '../errors.js';
import {
  ENROLLMENT_DEFAULT_VERSION,
  MAX_ENROLLMENT_REQUEST_SIZE,
  formatEnrollmentError,
  formatEnrollmentSuccess,
  parseEnrollmentRequest,
} from '../protocol/enrollment.js';
import { enrollmentKeyHash, normalizeSourceIp } from '../protocol/keys.js';
import type { AgentKey } from '../protocol/types.js';
import { TEST_SERVER_CERT, TEST_SERVER_KEY } from './certs.js';
import type { KeyStore } from './keystore.js';

/** Default wait for a complete request line before a connection is closed, in milliseconds. */
export const DEFAULT_AUTHD_REQUEST_TIMEOUT = 30_000;
/** Default `<force><disconnected_time>` and `<force><after_registration_time>`: one hour, in milliseconds. */
export const DEFAULT_AUTHD_FORCE_TIME = 3_600_000;

/** A manager's view of an agent's connection, as wazuh-db reports it (protocol.md 8.5). */
export type AgentConnectionStatus = 'never_connected' | 'pending' | 'active' | 'disconnected';

/** An agent's connection status and since when it holds (epoch milliseconds). */
export interface AgentStatusInfo {
  /** The status. */
  status: AgentConnectionStatus;
  /** When the agent entered this status, in epoch milliseconds (for `disconnected`: the disconnection time). */
  since: number;
}

/** authd's `<force>` block: when an enrollment may replace an existing agent with the same name or IP (protocol.md 7.5). */
export interface MockAuthdForceOptions {
  /**
   * Replace duplicates at all (`<enabled>`).
   * @default true
   */
  enabled?: boolean;
  /**
   * The old agent must have been disconnected for at least this many milliseconds (`<disconnected_time>`);
   * agents that are active or pending are never replaced. `false` disables the check
   * (`<disconnected_time enabled="no">`): then even connected agents are replaced.
   * @default 3600000
   */
  disconnectedTime?: number | false;
  /**
   * The old agent must have been registered at least this many milliseconds ago (`<after_registration_time>`); 0 disables the check.
   * @default 3600000
   */
  afterRegistrationTime?: number;
  /**
   * Refuse when the request's `K:` hash equals the old key's hash (`<key_mismatch>`).
   * @default true
   */
  keyMismatch?: boolean;
}

/** Options of {@link MockAuthd}. */
export interface MockAuthdOptions {
  /** Where keys are looked up and added; share it with the mock manager so new agents can connect at once. */
  keyStore: KeyStore;
  /**
   * Address to listen on. Loopback only in tests.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Port; 0 picks a free one (read it from {@link MockAuthd.port} after {@link MockAuthd.start}).
   * @default 0
   */
  port?: number;
  /** Require this password (`<use_password>yes`). A secret: never logged or emitted. */
  password?: string;
  /**
   * Groups that exist on the manager (`etc/shared/<group>`).
   * @default ['default']
   */
  groups?: Iterable<string>;
  /**
   * The manager version agents are compared with.
   * @default 'v4.14.7'
   */
  managerVersion?: string;
  /**
   * Accept agents newer than the manager (`<agents><allow_higher_versions>`).
   * @default false
   */
  allowHigherVersions?: boolean;
  /**
   * Record the connection's source address when the request has no `IP:` field (`<use_source_ip>`).
   * @default false
   */
  useSourceIp?: boolean;
  /** Replacement rules for duplicate names and IPs. */
  force?: MockAuthdForceOptions;
  /**
   * The connection status of an existing agent, for the `disconnectedTime` rule. Unknown agents (or no
   * callback) count as `never_connected`. A mock manager provides this.
   */
  statusOf?: (id: string) => AgentStatusInfo | undefined;
  /**
   * When an existing agent was registered (epoch ms), for the `afterRegistrationTime` rule. Without it,
   * agents enrolled through this authd use their enrollment time and any other key counts as
   * registered long ago.
   */
  registeredAt?: (id: string) => number | undefined;
  /**
   * PEM server certificate.
   * @default TEST_SERVER_CERT
   */
  cert?: string | Buffer;
  /**
   * PEM key of `cert`.
   * @default TEST_SERVER_KEY
   */
  key?: string | Buffer;
  /** PEM CA (`<ssl_agent_ca>`): when given, agents must present a certificate signed by it. */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Oldest TLS version accepted (`<ssl_auto_negotiate>no` refuses SSLv3, TLS 1.0 and 1.1).
   * @default 'TLSv1.2'
   */
  minVersion?: SecureVersion;
  /**
   * Milliseconds a connection may take to send its request line; 0 disables the limit.
   * @default 30000
   */
  requestTimeout?: number;
  /** Clock for timers and registration times. @default systemClock */
  clock?: Clock;
}

/** Faults to inject, switchable at run time with {@link MockAuthd.setFaults}. */
export interface MockAuthdFaults {
  /** Refuse every valid-looking request with this reason (`ERROR: <reason>. Unable to add agent`). */
  rejectAll?: string | undefined;
  /** Wait this many milliseconds after the request before handling it. */
  delayMs?: number | undefined;
  /** Read the request, then close the connection without replying. */
  closeWithoutReply?: boolean | undefined;
}

/** Counters of a {@link MockAuthd}. */
export interface MockAuthdStats {
  /** TLS connections that completed the handshake. */
  connections: number;
  /** Connections that failed the TLS handshake (bad version, missing or untrusted client certificate, ...). */
  tlsErrors: number;
  /** Agents enrolled. */
  enrolled: number;
  /** Existing agents removed to make room for a new enrollment (force rules). */
  replaced: number;
  /** Requests refused. */
  rejected: number;
  /** Refusals by reason kind: the reason up to its first `:` (`Duplicate agent name`, `Invalid password`, ...). */
  rejectedByReason: Record<string, number>;
}

/** Events of a {@link MockAuthd}. */
export interface MockAuthdEvents {
  /**
   * An agent was enrolled; its key is already in the key store. The key is a secret. `info` has the
   * groups it asked for (deduplicated, empty without `G:`) and the connection's source address.
   */
  enrolled: [key: AgentKey, info: { groups: string[]; sourceIp: string }];
  /** A request was refused with `reason` (authd's text without `ERROR: `). */
  rejected: [info: { reason: string; name?: string | undefined }];
  /** An existing agent was removed because a new enrollment replaced it. */
  replaced: [info: { old: AgentKey; name: string }];
}

/**
 * A mock wazuh-authd on 127.0.0.1.
 *
 * Each TLS connection carries one request line (up to the first `\n`, at most 69632 bytes) and gets
 * one reply, `OSSEC K:'<id> <name> <ip> <key>'` or `ERROR: <reason>. Unable to add agent`, after
 * which the connection is closed. New ids come from {@link KeyStore.nextId} and new keys are 64
 * random hex characters.
 *
 * @example
 * ```ts
 * const keyStore = new KeyStore();
 * const authd = new MockAuthd({ keyStore, password: 'topsecret' });
 * const { port } = await authd.start();
 * const key = await enroll({ host: '127.0.0.1', port, name: 'agent1', password: 'topsecret', ca: TEST_CA_CERT });
 * await authd.close();
 * ```
 */
export class MockAuthd extends EventEmitter<MockAuthdEvents> {
  readonly #options: MockAuthdOptions;
  readonly #clock: Clock;
  readonly #groups: Set<string>;
  readonly #force: Required<MockAuthdForceOptions>;
  readonly #registered = new Map<string, number>();
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<TimerHandle>();
  #server: TlsServer | undefined;
  #port = 0;
  #state: 'idle' | 'listening' | 'closed' = 'idle';
  #faults: MockAuthdFaults = {};
  #stats: MockAuthdStats = { connections: 0, tlsErrors: 0, enrolled: 0, replaced: 0, rejected: 0, rejectedByReason: {} };

  /**
   * @param options - key store, password, groups, force rules, TLS material; see {@link MockAuthdOptions}.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for an impossible option.
   */
  constructor(options: MockAuthdOptions) {
    super();
    if (options === undefined || options.keyStore === undefined) {
      throw new ConfigError('MockAuthd needs a keyStore', { element: 'keyStore' });
    }
    if (options.password !== undefined && (typeof options.password !== 'string' || options.password.length === 0 || options.password.includes('\n'))) {
      throw new ConfigError('MockAuthd password must be a non-empty string without newlines', { element: 'password', value: '[redacted]' });
    }
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError(`MockAuthd port ${String(port)} is not an integer from 0 to 65535`, { element: 'port', value: port });
    }
    const requestTimeout = options.requestTimeout ?? DEFAULT_AUTHD_REQUEST_TIMEOUT;
    if (!Number.isInteger(requestTimeout) || requestTimeout < 0) {
      throw new ConfigError(`MockAuthd requestTimeout ${String(requestTimeout)} is not a non-negative integer`, { element: 'requestTimeout', value: requestTimeout });
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#groups = new Set(options.groups ?? ['default']);
    this.#force = {
      enabled: options.force?.enabled ?? true,
      disconnectedTime: options.force?.disconnectedTime ?? DEFAULT_AUTHD_FORCE_TIME,
      afterRegistrationTime: options.force?.afterRegistrationTime ?? DEFAULT_AUTHD_FORCE_TIME,
      keyMismatch: options.force?.keyMismatch ?? true,
    };
  }

  /** The listening port (0 before {@link MockAuthd.start}). */
  get port(): number {
    return this.#port;
  }

  /** The key store new agents are added to. */
  get keyStore(): KeyStore {
    return this.#options.keyStore;
  }

  /**
   * Starts listening.
   *
   * @returns the port actually bound.
   * @throws {@link agentlink!StateError} `ERR_INVALID_STATE` when already started, `ERR_CLOSED` after {@link MockAuthd.close}.
   * @throws {@link agentlink!ToolError} `ERR_LISTEN` when it cannot listen (port in use, address not on this host).
   */
  async start(): Promise<{ port: number }> {
    if (this.#state === 'closed') throw new StateError('MockAuthd is closed', 'ERR_CLOSED');
    if (this.#state !== 'idle') throw new StateError('MockAuthd is already started', 'ERR_INVALID_STATE');
    this.#state = 'listening';
    const o = this.#options;
    const server = createServer({
      cert: o.cert ?? TEST_SERVER_CERT,
      key: o.key ?? TEST_SERVER_KEY,
      minVersion: o.minVersion ?? 'TLSv1.2',
      ...(o.ca !== undefined ? { ca: o.ca, requestCert: true, rejectUnauthorized: true } : {}),
    });
    this.#server = server;
    server.on('connection', (raw: Socket) => {
      this.#sockets.add(raw);
      raw.once('close', () => this.#sockets.delete(raw));
      raw.on('error', () => raw.destroy());
    });
    server.on('tlsClientError', (_err, tlsSocket) => {
      this.#stats.tlsErrors++;
      tlsSocket.destroy();
    });
    server.on('secureConnection', (socket) => this.#onConnection(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#state = 'closed';
        reject(toListenError(err, 'authd', o.host ?? '127.0.0.1', o.port ?? 0));
      };
      server.once('error', onError);
      server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', () => undefined);
    const address = server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : 0;
    return { port: this.#port };
  }

  /**
   * Switches faults on or off; fields left out keep their value, `undefined` clears one.
   *
   * @param faults - the faults to change.
   */
  setFaults(faults: MockAuthdFaults): void {
    this.#faults = { ...this.#faults, ...faults };
  }

  /** @returns a copy of the counters. */
  stats(): MockAuthdStats {
    return { ...this.#stats, rejectedByReason: { ...this.#stats.rejectedByReason } };
  }

  /**
   * Stops listening, destroys every open connection and clears every timer. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state === 'closed' && this.#server === undefined) return;
    this.#state = 'closed';
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  /** `Symbol.asyncDispose`: same as {@link MockAuthd.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- one connection ------------------------------------------------------------------

  #onConnection(socket: TLSSocket): void {
    this.#stats.connections++;
    socket.on('error', () => socket.destroy());
    let timer: TimerHandle | undefined;
    const timeout = this.#options.requestTimeout ?? DEFAULT_AUTHD_REQUEST_TIMEOUT;
    if (timeout > 0) {
      timer = this.#addTimer(() => socket.destroy(), timeout);
    }
    socket.once('close', () => this.#clearTimer(timer));
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      const nl = chunk.indexOf(0x0a);
      if (nl < 0) {
        size += chunk.length;
        chunks.push(chunk);
        if (size >= MAX_ENROLLMENT_REQUEST_SIZE) socket.destroy();
        return;
      }
      if (size + nl >= MAX_ENROLLMENT_REQUEST_SIZE) {
        socket.destroy();
        return;
      }
      chunks.push(chunk.subarray(0, nl));
      socket.off('data', onData);
      this.#clearTimer(timer);
      const line = Buffer.concat(chunks).toString('latin1');
      const source = normalizeSourceIp(socket.remoteAddress ?? '');
      void this.#answer(socket, line, source);
    };
    socket.on('data', onData);
  }

  async #answer(socket: TLSSocket, line: string, sourceIp: string): Promise<void> {
    const delay = this.#faults.delayMs ?? 0;
    if (delay > 0) {
      await new Promise<void>((resolve) => {
        const t = this.#addTimer(resolve, delay);
        socket.once('close', () => {
          this.#clearTimer(t);
          resolve();
        });
      });
    }
    if (socket.destroyed || this.#state === 'closed') return;
    if (this.#faults.closeWithoutReply === true) {
      socket.end();
      return;
    }
    const reply = this.#decide(line, sourceIp);
    socket.end(Buffer.from(reply, 'latin1'));
  }

  /** Parses the request and applies protocol.md 7.5. Synchronous, so decisions never interleave. */
  #decide(line: string, sourceIp: string): string {
    const o = this.#options;
    const parsed = parseEnrollmentRequest(line, {
      password: o.password,
      managerVersion: o.managerVersion ?? ENROLLMENT_DEFAULT_VERSION,
      allowHigherVersions: o.allowHigherVersions,
      useSourceIp: o.useSourceIp,
      sourceIp,
      existingGroups: this.#groups,
    });
    if (!parsed.ok) return this.#reject(parsed.reason, /OSSEC A:'([^']*)'/.exec(line)?.[1]);
    const { name, ip, keyHash, groups } = parsed;
    if (this.#faults.rejectAll !== undefined) return this.#reject(this.#faults.rejectAll, name);
    const store = o.keyStore;

    if (ip !== 'any') {
      const sameIp = store.list().find((k) => k.ip === ip);
      if (sameIp !== undefined) {
        if (!this.#mayReplace(sameIp, keyHash)) return this.#reject(`Duplicate IP: ${ip}`, name);
        this.#replace(sameIp, name);
      }
    }
    const sameName = store.findByName(name);
    if (sameName !== undefined) {
      if (!this.#mayReplace(sameName, keyHash)) return this.#reject(`Duplicate agent name: ${name}`, name);
      this.#replace(sameName, name);
    }

    let added: AgentKey;
    try {
      added = store.add({ id: store.nextId(), name, ip, key: randomBytes(32).toString('hex') });
    } catch {
      return this.#reject(`Internal manager error adding agent: ${name}`, name);
    }
    this.#registered.set(added.id, this.#clock.now());
    this.#stats.enrolled++;
    this.emit('enrolled', added, { groups: groups ?? [], sourceIp });
    return formatEnrollmentSuccess(added);
  }

  #mayReplace(old: AgentKey, keyHash: string | undefined): boolean {
    const f = this.#force;
    if (!f.enabled) return false;
    const now = this.#clock.now();
    if (f.disconnectedTime !== false) {
      const info = this.#options.statusOf?.(old.id);
      const status = info?.status ?? 'never_connected';
      if (status !== 'never_connected') {
        if (status !== 'disconnected') return false;
        if (now - (info?.since ?? 0) < f.disconnectedTime) return false;
      }
    }
    if (f.afterRegistrationTime > 0) {
      const registered = this.#options.registeredAt?.(old.id) ?? this.#registered.get(old.id);
      if (registered !== undefined && now - registered < f.afterRegistrationTime) return false;
    }
    if (f.keyMismatch && keyHash !== undefined && enrollmentKeyHash(old) === keyHash) return false;
    return true;
  }

  #replace(old: AgentKey, name: string): void {
    this.#options.keyStore.remove(old.id);
    this.#registered.delete(old.id);
    this.#stats.replaced++;
    this.emit('replaced', { old, name });
  }

  #reject(reason: string, name: string | undefined): string {
    this.#stats.rejected++;
    const kind = reason.split(':', 1)[0]!;
    this.#stats.rejectedByReason[kind] = (this.#stats.rejectedByReason[kind] ?? 0) + 1;
    this.emit('rejected', { reason, name });
    return formatEnrollmentError(reason);
  }

  #addTimer(fn: () => void, ms: number): TimerHandle {
    const handle = unrefTimeout(
      this.#clock,
      () => {
        this.#timers.delete(handle);
        fn();
      },
      ms,
    );
    this.#timers.add(handle);
    return handle;
  }

  #clearTimer(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    this.#clock.clearTimeout(handle);
    this.#timers.delete(handle);
  }
}
