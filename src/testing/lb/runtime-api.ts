/**
 * A client of HAProxy's runtime API (the `stats socket … level admin` unix socket): reads
 * per-server sessions and states, drains, readies, adds and deletes servers. One command per connection,
 * the reply read until HAProxy closes the connection.
 *
 * @module
 */
import { connect } from 'node:net';
import { systemClock } from '../../clock.js';
import type { Clock, TimerHandle } from '../../clock.js';
import { ToolError } from '../../errors.js';
import { sleep } from './process.js';

/** Default deadline of one runtime API command, in milliseconds. */
export const DEFAULT_RUNTIME_API_TIMEOUT_MS = 5_000;

/** The `type` column of `show stat`. */
export type StatRowType = 'frontend' | 'backend' | 'server' | 'listener';

/** A server's state as the balancer treats it. `UP 1/2` (going down) counts as `UP`, `DOWN 1/2` (going up) as `DOWN`. */
export type ServerState = 'UP' | 'DOWN' | 'DRAIN' | 'MAINT' | 'NOLB';

/** Health-check settings of a server added at run time (the `check inter … fall … rise …` of the config). */
export interface ServerCheckOptions {
  /**
   * Check interval in milliseconds (`inter`).
   * @default 1000
   */
  inter?: number;
  /**
   * Failed checks before the server is DOWN (`fall`).
   * @default 2
   */
  fall?: number;
  /**
   * Passed checks before a DOWN server is UP again (`rise`).
   * @default 2
   */
  rise?: number;
}

/** What {@link HaproxyRuntimeApi.setServerState} can set. */
export type SettableServerState = 'ready' | 'drain' | 'maint';

/** One row of `show stat`, the columns the harness uses typed; every column is also in `raw`. */
export interface StatRow {
  /** Proxy name (frontend or backend). */
  pxname: string;
  /** `FRONTEND`, `BACKEND`, or the server name. */
  svname: string;
  /** Row type. */
  type: StatRowType;
  /** Current queued requests. */
  qcur: number | undefined;
  /** Current sessions (for a server: connections it carries now). */
  scur: number;
  /** Maximum concurrent sessions seen. */
  smax: number | undefined;
  /** Session limit. */
  slim: number | undefined;
  /** Total sessions since start. */
  stot: number | undefined;
  /** Times the server was selected (new sessions, redispatches). */
  lbtot: number | undefined;
  /** Status text as HAProxy prints it: `OPEN`, `UP`, `UP 1/2`, `DOWN`, `DRAIN`, `MAINT`, `no check`, … */
  status: string;
  /** Effective weight. */
  weight: number | undefined;
  /** Failed checks. */
  chkfail: number | undefined;
  /** UP→DOWN transitions. */
  chkdown: number | undefined;
  /** Seconds since the last status change. */
  lastchg: number | undefined;
  /** Last health check result (`L4OK`, `L4CON`, …). */
  checkStatus: string | undefined;
  /** Server address `ip:port`. */
  addr: string | undefined;
  /** Every column by its header name, as text. */
  raw: Record<string, string>;
}

/** One row of `show servers state`. */
export interface ServerStateRow {
  /** Backend id. */
  beId: number;
  /** Backend name. */
  beName: string;
  /** Server id. */
  srvId: number;
  /** Server name. */
  srvName: string;
  /** Server address. */
  srvAddr: string;
  /** Operational state: 0 stopped, 1 starting, 2 running, 3 stopping. */
  srvOpState: number;
  /** Administrative state bit field (0x01 forced maint, 0x08 forced drain, …). */
  srvAdminState: number;
  /** User weight. */
  srvUweight: number;
  /** Server port. */
  srvPort: number | undefined;
  /** Every column by its header name, as text. */
  raw: Record<string, string>;
}

/** Options of {@link HaproxyRuntimeApi}. */
export interface HaproxyRuntimeApiOptions {
  /**
   * Deadline of one command, in milliseconds.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Clock for deadlines and polling.
   * @default systemClock
   */
  clock?: Clock;
}

const TYPES: readonly StatRowType[] = ['frontend', 'backend', 'server', 'listener'];

/**
 * Splits one CSV line (HAProxy quotes a field only when it contains a comma or a quote).
 *
 * @param line - the line.
 * @returns the fields.
 */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

function num(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses the CSV of `show stat`.
 *
 * @param text - the reply, header line (`# pxname,svname,…`) first.
 * @returns one typed row per line.
 * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` when the header is missing.
 */
export function parseShowStat(text: string): StatRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const header = lines.shift();
  if (header === undefined || !header.startsWith('# ')) {
    throw new ToolError(`HAProxy 'show stat' reply has no CSV header: ${JSON.stringify(text.slice(0, 200))}`, 'ERR_EXTERNAL_PROGRAM');
  }
  const columns = splitCsvLine(header.slice(2));
  return lines.map((line) => {
    const values = splitCsvLine(line);
    const raw: Record<string, string> = {};
    columns.forEach((column, i) => {
      if (column !== '') raw[column] = values[i] ?? '';
    });
    return {
      pxname: raw.pxname ?? '',
      svname: raw.svname ?? '',
      type: TYPES[num(raw.type) ?? 2] ?? 'server',
      qcur: num(raw.qcur),
      scur: num(raw.scur) ?? 0,
      smax: num(raw.smax),
      slim: num(raw.slim),
      stot: num(raw.stot),
      lbtot: num(raw.lbtot),
      status: raw.status ?? '',
      weight: num(raw.weight),
      chkfail: num(raw.chkfail),
      chkdown: num(raw.chkdown),
      lastchg: num(raw.lastchg),
      checkStatus: raw.check_status === '' ? undefined : raw.check_status,
      addr: raw.addr === '' ? undefined : raw.addr,
      raw,
    };
  });
}

/**
 * Parses the reply of `show servers state` (version line, `# column …` header, space-separated rows).
 *
 * @param text - the reply.
 * @returns one typed row per server.
 * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` when the header is missing.
 */
export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const headerAt = lines.findIndex((line) => line.startsWith('# '));
  if (headerAt < 0) {
    throw new ToolError(`HAProxy 'show servers state' reply has no header: ${JSON.stringify(text.slice(0, 200))}`, 'ERR_EXTERNAL_PROGRAM');
  }
  const columns = (lines[headerAt] ?? '').slice(2).trim().split(/\s+/);
  return lines.slice(headerAt + 1).map((line) => {
    const values = line.trim().split(/\s+/);
    const raw: Record<string, string> = {};
    columns.forEach((column, i) => {
      raw[column] = values[i] ?? '';
    });
    return {
      beId: num(raw.be_id) ?? 0,
      beName: raw.be_name ?? '',
      srvId: num(raw.srv_id) ?? 0,
      srvName: raw.srv_name ?? '',
      srvAddr: raw.srv_addr ?? '',
      srvOpState: num(raw.srv_op_state) ?? 0,
      srvAdminState: num(raw.srv_admin_state) ?? 0,
      srvUweight: num(raw.srv_uweight) ?? 0,
      srvPort: num(raw.srv_port),
      raw,
    };
  });
}

/**
 * Maps a `show stat` status text to the state the balancer acts on.
 *
 * @param status - e.g. `UP`, `UP 1/2`, `DOWN 1/2`, `DRAIN`, `MAINT (via b/s)`, `no check`.
 * @returns the state; `no check` counts as `UP` (HAProxy sends traffic to it).
 */
export function toServerState(status: string): ServerState {
  if (status.startsWith('MAINT')) return 'MAINT';
  if (status.startsWith('DRAIN')) return 'DRAIN';
  if (status.startsWith('NOLB')) return 'NOLB';
  if (status.startsWith('DOWN')) return 'DOWN';
  return 'UP';
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function checkName(value: string, what: string): void {
  if (!NAME_RE.test(value)) {
    throw new ToolError(`HAProxy ${what} name ${JSON.stringify(value)} is not valid (letters, digits, '_', '.', '-')`, 'ERR_USAGE');
  }
}

/**
 * HAProxy's runtime API over the admin unix socket.
 *
 * @example
 * ```ts
 * const api = new HaproxyRuntimeApi(balancer.socketPath);
 * await api.setServerState('wazuh_cluster', 'node1', 'drain');
 * console.log(await api.sessionsPerServer()); // { node1: 98, node2: 101, node3: 101 }
 * ```
 */
export class HaproxyRuntimeApi {
  /** Path of the unix socket. */
  readonly socketPath: string;
  readonly #timeoutMs: number;
  readonly #clock: Clock;

  /**
   * @param socketPath - the `stats socket` path, configured with `level admin`.
   * @param options - command deadline and clock.
   */
  constructor(socketPath: string, options: HaproxyRuntimeApiOptions = {}) {
    this.socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_RUNTIME_API_TIMEOUT_MS;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Sends one command and returns HAProxy's whole reply.
   *
   * @param command - a runtime API command (`show info`, `show stat`, `set server b/s state drain`, …).
   * @returns the reply text.
   * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` when the socket cannot be reached or the deadline passes;
   *   `ERR_USAGE` when the command contains a line break.
   */
  raw(command: string): Promise<string> {
    if (/[\r\n]/.test(command)) return Promise.reject(new ToolError('A runtime API command must be a single line', 'ERR_USAGE'));
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let settled = false;
      let timer: TimerHandle | undefined;
      const socket = connect(this.socketPath);
      const finish = (err: ToolError | undefined): void => {
        if (settled) return;
        settled = true;
        this.#clock.clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(Buffer.concat(chunks).toString('utf8'));
      };
      timer = this.#clock.setTimeout(() => {
        finish(new ToolError(`HAProxy runtime API '${command}' got no complete reply within ${this.#timeoutMs} ms (${this.socketPath})`, 'ERR_EXTERNAL_PROGRAM'));
      }, this.#timeoutMs);
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.once('end', () => finish(undefined));
      socket.once('close', () => finish(undefined));
      socket.once('error', (err) =>
        finish(new ToolError(`HAProxy runtime API at ${this.socketPath} failed on '${command}': ${err.message}`, 'ERR_EXTERNAL_PROGRAM', { cause: err })),
      );
      socket.once('connect', () => socket.end(`${command}\n`));
    });
  }

  /**
   * `show info`, as a name → value map (`Version`, `Uptime_sec`, `CurrConns`, …).
   *
   * @returns the fields.
   */
  async showInfo(): Promise<Record<string, string>> {
    const text = await this.raw('show info');
    const info: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const at = line.indexOf(':');
      if (at > 0) info[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    if (info.Name === undefined) throw new ToolError(`HAProxy 'show info' reply is not valid: ${JSON.stringify(text.slice(0, 200))}`, 'ERR_EXTERNAL_PROGRAM');
    return info;
  }

  /**
   * `show stat`: one row per frontend, backend and server.
   *
   * @returns the parsed rows.
   */
  async showStat(): Promise<StatRow[]> {
    return parseShowStat(await this.raw('show stat'));
  }

  /**
   * `show servers state`, optionally for one backend.
   *
   * @param backend - the backend, or every backend when omitted.
   * @returns one row per server.
   */
  async showServersState(backend?: string): Promise<ServerStateRow[]> {
    if (backend !== undefined) checkName(backend, 'backend');
    const text = await this.raw(backend === undefined ? 'show servers state' : `show servers state ${backend}`);
    if (/^Can't find backend/m.test(text)) throw new ToolError(`HAProxy has no backend '${backend}'`, 'ERR_USAGE');
    return parseServersState(text);
  }

  /**
   * The server rows of one backend from `show stat`.
   *
   * @param backend - the backend name.
   * @returns the server rows (no `FRONTEND`/`BACKEND` rows).
   * @throws {@link agentlink!ToolError} `ERR_USAGE` when the backend does not exist.
   */
  async serverRows(backend = 'wazuh_cluster'): Promise<StatRow[]> {
    checkName(backend, 'backend');
    const rows = (await this.showStat()).filter((row) => row.pxname === backend);
    if (!rows.some((row) => row.svname === 'BACKEND')) throw new ToolError(`HAProxy has no backend '${backend}'`, 'ERR_USAGE');
    return rows.filter((row) => row.type === 'server');
  }

  /**
   * Current sessions (`scur`) per server of a backend: the agents each node carries now.
   *
   * @param backend - the backend name.
   * @returns server name → current sessions.
   */
  async sessionsPerServer(backend = 'wazuh_cluster'): Promise<Record<string, number>> {
    const result: Record<string, number> = {};
    for (const row of await this.serverRows(backend)) result[row.svname] = row.scur;
    return result;
  }

  /**
   * The state of every server of a backend.
   *
   * @param backend - the backend name.
   * @returns server name → state.
   */
  async serverStates(backend = 'wazuh_cluster'): Promise<Record<string, ServerState>> {
    const result: Record<string, ServerState> = {};
    for (const row of await this.serverRows(backend)) result[row.svname] = toServerState(row.status);
    return result;
  }

  /**
   * `set server <backend>/<server> state ready|drain|maint`. `drain` keeps current sessions but
   * sends no new ones; `maint` also stops the health checks.
   *
   * @param backend - the backend name.
   * @param server - the server name.
   * @param state - the administrative state to set.
   * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` with HAProxy's answer when it refuses.
   */
  async setServerState(backend: string, server: string, state: SettableServerState): Promise<void> {
    checkName(backend, 'backend');
    checkName(server, 'server');
    if (state !== 'ready' && state !== 'drain' && state !== 'maint') {
      throw new ToolError(`Server state must be 'ready', 'drain' or 'maint', not ${JSON.stringify(state)}`, 'ERR_USAGE');
    }
    await this.#expectEmpty(`set server ${backend}/${server} state ${state}`);
  }

  /**
   * Adds a server to a backend at run time, as the Wazuh HAProxy helper does when a node joins the
   * cluster. HAProxy ≥ 2.4 dynamic servers; the backend must use a dynamic algorithm such as
   * `leastconn` or `roundrobin`. What HAProxy 2.6 (Debian 12's 2.6.12) requires, checked against it:
   * `add server` registers the server in maintenance (`MAINT`, no traffic), and with `check` its
   * health check stays off (status `no check`) until `enable health`; `set server … state ready`
   * (what `enable server` does) then puts it in service. This method does all three, so the server
   * takes traffic once its first check passes (it starts UP, as a configured server does, and a dead
   * address is DOWN after the first failed check).
   *
   * @param backend - the backend name.
   * @param server - the new server name.
   * @param address - its IP address.
   * @param port - its port.
   * @param options - `check` (default true) with `inter` (ms), `fall` and `rise`, as in the generated config.
   * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` with HAProxy's answer when it refuses (a server of that
   *   name exists, a static algorithm, …); `ERR_USAGE` for a bad name, address or port.
   */
  async addServer(
    backend: string,
    server: string,
    address: string,
    port: number,
    options: ServerCheckOptions & { check?: boolean } = {},
  ): Promise<void> {
    checkName(backend, 'backend');
    checkName(server, 'server');
    if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(address)) throw new ToolError(`Server address ${JSON.stringify(address)} is not valid`, 'ERR_USAGE');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ToolError(`Server port ${port} is not valid`, 'ERR_USAGE');
    const target = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    const check = options.check ?? true;
    const checkArgs = check ? ` check inter ${options.inter ?? 1000} fall ${options.fall ?? 2} rise ${options.rise ?? 2}` : '';
    const reply = await this.raw(`add server ${backend}/${server} ${target}${checkArgs}`);
    if (!/New server registered/i.test(reply)) {
      throw new ToolError(`HAProxy refused to add server ${backend}/${server}: ${reply.trim()}`, 'ERR_EXTERNAL_PROGRAM');
    }
    if (check) await this.#expectEmpty(`enable health ${backend}/${server}`);
    await this.setServerState(backend, server, 'ready');
  }

  /**
   * Removes a server at run time (a dynamic one or one from the config), as the helper does when a
   * node leaves the cluster. HAProxy 2.6 deletes only a server in maintenance with no connection
   * attached (`Only servers in maintenance mode can be deleted.`, `Server still has connections
   * attached to it`), so this sets `maint` (no new connections), shuts its sessions down, and sends
   * `del server` until HAProxy has released the connections (the shutdown completes asynchronously).
   * Move the agents off the server first (drain, then ask them to reconnect) if they must not see
   * their connection cut: `HaproxyRebalancer.removeNode` does.
   *
   * @param backend - the backend name.
   * @param server - the server name.
   * @param options - `timeoutMs` (default 5000) for the connections to be released, `intervalMs` (default 50) between attempts.
   * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` with HAProxy's answer when it refuses (no such server)
   *   or still holds connections at the deadline.
   */
  async deleteServer(backend: string, server: string, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<void> {
    await this.setServerState(backend, server, 'maint');
    await this.#expectEmpty(`shutdown sessions server ${backend}/${server}`);
    const timeoutMs = options.timeoutMs ?? 5_000;
    const started = this.#clock.monotonic();
    for (;;) {
      const reply = (await this.raw(`del server ${backend}/${server}`)).trim();
      if (/Server deleted/i.test(reply)) return;
      if (!/still has connections/i.test(reply) || this.#clock.monotonic() - started >= timeoutMs) {
        throw new ToolError(`HAProxy refused to delete server ${backend}/${server}: ${reply}`, 'ERR_EXTERNAL_PROGRAM');
      }
      await sleep(this.#clock, options.intervalMs ?? 50);
    }
  }

  /**
   * Polls `show stat` until a server reaches `state`.
   *
   * @param backend - the backend name.
   * @param server - the server name.
   * @param state - the state to wait for.
   * @param options - `timeoutMs` (default 10 000) and `intervalMs` (default 100).
   * @returns milliseconds waited.
   * @throws {@link agentlink!ToolError} `ERR_EXTERNAL_PROGRAM` naming the last state seen when the deadline passes.
   */
  async waitForServerState(
    backend: string,
    server: string,
    state: ServerState,
    options: { timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<number> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const started = this.#clock.monotonic();
    let last: ServerState | undefined;
    for (;;) {
      last = (await this.serverStates(backend))[server];
      const waited = this.#clock.monotonic() - started;
      if (last === state) return waited;
      if (waited >= timeoutMs) {
        throw new ToolError(`HAProxy server ${backend}/${server} did not become ${state} within ${timeoutMs} ms (last: ${last ?? 'absent'})`, 'ERR_EXTERNAL_PROGRAM');
      }
      await sleep(this.#clock, options.intervalMs ?? 100);
    }
  }

  async #expectEmpty(command: string): Promise<void> {
    const reply = (await this.raw(command)).trim();
    if (reply !== '') throw new ToolError(`HAProxy refused '${command}': ${reply}`, 'ERR_EXTERNAL_PROGRAM');
  }
}
