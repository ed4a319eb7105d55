/**
 * End to end (DESIGN.md "Budgets", issue 12): events per agent-side CPU second for 1, 50 and 1000
 * agents at the largest configurable rate (`buffer.eventsPerSecond` 1000), against a bare loop doing
 * the same work with the same primitives in the same process and run; the MockManager's events
 * decoded per CPU second; handshakes per second and RSS per connected idle agent.
 *
 * Layout: the mock manager (one MockCluster node, the simulator's event sink) runs in a child
 * process of its own; each measurement runs its agents in a fresh child process (this file with
 * `--e2e-child`), so the CPU time read with `process.cpuUsage()` is the agents' alone and RSS starts
 * from a clean heap. Throughput alternates short rounds of agentlink and of the bare loop inside one
 * child (both sides connected, only one fed at a time) so background load hits both alike; the
 * reported ratio is the median of the per-round ratios.
 *
 * The bare loop: `net` sockets, each event built as a string, then md5 + `zlib.deflateSync` +
 * `createCipheriv` + one `socket.write` per frame (bench/bare.ts), fed by one 10 ms interval at the
 * same rate. Its handshake: connect, startup, wait for and decode the ACK, keepalive.
 *
 * The raw loop, the floor of a handshake with Node sockets: connect, write 120 bytes (a startup's
 * size), read the 60-byte reply of a plain `net` server in this (parent) process, write 250 bytes
 * (a keepalive's); no codec, no manager. Its two sides' CPU per connection is what any Node agent and
 * any Node manager pay for sockets alone; the handshake ratios compare agentlink to it.
 *
 * The Python floor (bench/python.ts) follows the throughput: a Python loop doing per event what
 * wazuh-qa's agent simulator does at the least, its events per CPU second and agentlink's ratios to it
 * (`AGENTLINK_BENCH_PYTHON` names the interpreter; skipped with the reason when it has no pycryptodome).
 *
 * Sizes come from the environment: `AGENTLINK_E2E_SIZES` (default `1,50,1000`; `0` skips the throughput), `AGENTLINK_E2E_MS`
 * (window of one round, default 1000), `AGENTLINK_E2E_ROUNDS` (rounds per side, default 2),
 * `AGENTLINK_E2E_IDLE` (agents of the handshake and RSS measurement, default 10000; 0 skips it; the
 * bare loop connects half as many: its rate per CPU second is what it compares, and at a fifth, 2000,
 * the child's start-up weighed in: RSS 27 KB per agent against 9 at 10 000),
 * `AGENTLINK_E2E_LEVELS` (compression levels of the agentlink side, default `9,0`; the first runs at
 * every size, the others at `AGENTLINK_E2E_OTHER_SIZES`, default `50`, the size of issue 12's level-0 goal),
 * `AGENTLINK_E2E_PROF` (a directory: the agent children write `--cpu-prof` profiles there; run the
 * whole bench as `node --cpu-prof --cpu-prof-dir=DIR dist/bench/run.js e2e` to profile the manager too: its
 * process inherits the flags; `NODE_OPTIONS` may not carry `--cpu-prof`).
 *
 * Run: `npm run bench e2e`.
 *
 * @module
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { AgentClient } from '../src/agent/index.js';
import { deriveEncryptionKey } from '../src/protocol/keys.js';
import { buildKeepalive, buildStartup } from '../src/protocol/messages.js';
import type { AgentKey, MessageCounter } from '../src/protocol/index.js';
import { startEmbeddedCluster } from '../src/simulator/cluster-host.js';
import { simulatedIdentities } from '../src/simulator/identities.js';
import { bareDecode, bareEncodeFrame } from './bare.js';
import { pythonFloor } from './python.js';

/** Options of {@link benchE2e}; each defaults to its environment variable. */
export interface BenchE2eOptions {
  /** Agent counts of the throughput measurement. @default [1, 50, 1000] */
  sizes?: number[];
  /** Milliseconds of one round. @default 1000 */
  windowMs?: number;
  /** Rounds per side and size. @default 2 */
  rounds?: number;
  /** Agents of the handshake and RSS measurement (the bare loop: half as many). @default 10000 */
  idleAgents?: number;
  /** Compression levels of the agentlink side; the first runs at every size. @default [9, 0] */
  levels?: number[];
  /** Sizes the levels after the first run at. @default [50] */
  otherSizes?: number[];
}

/** Largest configurable `buffer.eventsPerSecond`: the rate of every agent. */
const RATE = 1000;
/** The feeder's period, as the client buffer's drain tick. */
const TICK_MS = 10;
/** At most this many events per agent per feeder turn: a saturated process is offered what it can drain, not a growing backlog. */
const BURST = (RATE * TICK_MS) / 1000;
/** Handshakes in flight at once during the connect measurement. */
const CONNECT_WINDOW = 500;
/** Connections of the Python floor: the agents of issue 12's goals. */
const PYTHON_SOCKETS = 50;
const SEED = 'e2e';
const LOCATION = '/var/log/auth.log';
const MESSAGE = 'Jan  1 00:00:00 web01 sshd[31337]: Accepted publickey for deploy from 10.20.30.40 port 52144 ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0'.padEnd(150, '.');
/**
 * Source address of the throughput phases (its own, so their TIME_WAIT sockets never crowd the
 * others). The handshake phases bind none: binding an address with port 0 makes the kernel search
 * for a free port, and with thousands of sockets on one address that search costs more than the
 * rest of a handshake (measured: 10 000 binds on one address, 4× the CPU of 10 000 plain connects).
 */
const THROUGHPUT_SOURCE = '127.0.0.4';

function envList(name: string, fallback: number[]): number[] {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return fallback;
  return v.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 0 && !(name === 'AGENTLINK_E2E_SIZES' && n === 0));
}

function envInt(name: string, fallback: number, min = 1): number {
  const v = process.env[name];
  const n = Number(v);
  return v !== undefined && v.trim() !== '' && Number.isFinite(n) && n >= min ? Math.floor(n) : fallback;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU seconds (user + system) of another process, from /proc (10 ms resolution). */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

// --- child side -----------------------------------------------------------------------------------

/** What the parent asks a child to do. */
type ChildTask =
  | { mode: 'idle'; kind: 'agentlink' | 'bare' | 'raw'; first: number; count: number; port: number; localAddress: string | undefined }
  | { mode: 'throughput'; first: number; count: number; port: number; level: number; windowMs: number; rounds: number; localAddress: string };

/** One measured round of one side. */
interface Round {
  side: 'agentlink' | 'bare';
  events: number;
  cpu: number;
  wall: number;
}

/** A hand-written agent: a socket, the bare codec, no state machine. */
class BareAgent {
  readonly #key: AgentKey;
  readonly #aes: Buffer;
  #socket: net.Socket | undefined;
  #counter: MessageCounter = { global: 0, local: 0 };
  #rx: Buffer = Buffer.alloc(0);
  #onAck: (() => void) | undefined;
  sent = 0;
  acks = 0;

  constructor(key: AgentKey) {
    this.#key = key;
    this.#aes = deriveEncryptionKey(key).aes;
  }

  /** Connects, sends the startup, waits for its ACK, sends a keepalive. */
  connect(port: number, localAddress: string | undefined, keepalive: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(localAddress === undefined ? { host: '127.0.0.1', port } : { host: '127.0.0.1', port, localAddress });
      this.#socket = socket;
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
      socket.once('connect', () => {
        this.#onAck = () => {
          this.#onAck = undefined;
          socket.off('error', reject);
          socket.on('error', () => {});
          this.#write(Buffer.from(keepalive, 'latin1'), 9);
          resolve();
        };
        this.#write(Buffer.from(buildStartup(), 'latin1'), 9);
      });
    });
  }

  /** Sends one event. */
  send(level: number): void {
    this.#write(Buffer.from(`1:${LOCATION}:${MESSAGE}`, 'utf8'), level);
    this.sent++;
  }

  #write(text: Buffer, level: number): void {
    const c = this.#counter;
    this.#counter = c.local >= 9997 ? { global: c.global + 1, local: 1 } : { global: c.global, local: c.local + 1 };
    this.#socket!.write(bareEncodeFrame(text, this.#aes, this.#key.id, this.#counter, Math.floor(Math.random() * 65536), level));
  }

  #onData(chunk: Buffer): void {
    this.#rx = this.#rx.length === 0 ? chunk : Buffer.concat([this.#rx, chunk]);
    while (this.#rx.length >= 4) {
      const len = this.#rx.readUInt32LE(0);
      if (this.#rx.length < 4 + len) break;
      const payload = this.#rx.subarray(4, 4 + len);
      this.#rx = this.#rx.subarray(4 + len);
      bareDecode(payload, this.#aes);
      this.acks++;
      this.#onAck?.();
    }
  }
}

/** Bytes of the raw loop: what a startup, the manager's ACK and a keepalive weigh on the wire. */
const RAW_STARTUP = 120;
const RAW_REPLY = 60;
const RAW_KEEPALIVE = 250;

/** The raw loop's handshake: connect, write, read the reply, write; the socket stays open. */
function rawConnect(port: number, localAddress: string | undefined, held: unknown[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(localAddress === undefined ? { host: '127.0.0.1', port } : { host: '127.0.0.1', port, localAddress });
    held.push(socket);
    socket.setNoDelay(true);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(Buffer.alloc(RAW_STARTUP, 0x41)));
    socket.once('data', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.write(Buffer.alloc(RAW_KEEPALIVE, 0x41));
      resolve();
    });
  });
}

/** The raw loop's server: answers every chunk with RAW_REPLY bytes. */
async function startRawServer(): Promise<{ port: number; sockets: Set<net.Socket>; server: net.Server }> {
  const sockets = new Set<net.Socket>();
  const reply = Buffer.alloc(RAW_REPLY, 0x42);
  const server = net.createServer((s) => {
    sockets.add(s);
    s.setNoDelay(true);
    s.on('data', () => s.write(reply));
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, sockets, server };
}

function newClient(key: AgentKey, port: number, localAddress: string | undefined, level: number): AgentClient {
  return new AgentClient({
    agent: { id: key.id, name: key.name, key: key.key },
    servers: [{ address: '127.0.0.1', port }],
    ...(localAddress === undefined ? {} : { localAddress }),
    buffer: { eventsPerSecond: RATE },
    compressionLevel: level,
  });
}

/** Connects `count` items with at most CONNECT_WINDOW in flight; resolves when all are connected. */
async function connectAll(count: number, connectOne: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await connectOne(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONNECT_WINDOW, count) }, lane));
}

function keepaliveText(): string {
  return buildKeepalive({ uname: 'Linux |bench |6.1.0 |#1 SMP |x86_64 [Debian GNU/Linux|debian: 12] - Wazuh v4.14.7', labels: [], mergedSum: 'x', agentIp: '127.0.0.1' });
}

async function gcTwice(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(100);
  gc?.();
}

async function childIdle(task: Extract<ChildTask, { mode: 'idle' }>, mark: () => Promise<void>): Promise<Record<string, number>> {
  const keys = task.kind === 'raw' ? [] : simulatedIdentities(Array.from({ length: task.count }, (_, i) => task.first + i), SEED);
  const keepalive = keepaliveText();
  await gcTwice();
  const m0 = process.memoryUsage();
  const held: unknown[] = [];
  await mark();
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  if (task.kind === 'agentlink') {
    await connectAll(task.count, async (i) => {
      const c = newClient(keys[i]!, task.port, task.localAddress, 9);
      held.push(c);
      await c.start();
    });
  } else if (task.kind === 'raw') {
    await connectAll(task.count, () => rawConnect(task.port, task.localAddress, held));
  } else {
    await connectAll(task.count, async (i) => {
      const a = new BareAgent(keys[i]!);
      held.push(a);
      await a.connect(task.port, task.localAddress, keepalive);
    });
  }
  const wall = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0);
  const cpu = (u.user + u.system) / 1e6;
  await mark();
  await sleep(1000);
  await gcTwice();
  const m1 = process.memoryUsage();
  const kb = (b: number): number => Math.round((b / task.count / 1024) * 10) / 10;
  return {
    handshakesPerSec: Math.round(task.count / wall),
    handshakesPerCpuSec: Math.round(task.count / cpu),
    systemCpuShare: Math.round((u.system / (u.user + u.system)) * 100) / 100,
    rssPerAgentKB: kb(m1.rss - m0.rss),
    heapPerAgentKB: kb(m1.heapUsed - m0.heapUsed),
    // `external` already includes `arrayBuffers` (Node's docs): their sum counted the Buffers twice
    externalPerAgentKB: kb(m1.external - m0.external),
    held: held.length,
  };
}

async function childThroughput(task: Extract<ChildTask, { mode: 'throughput' }>, mark: () => Promise<void>): Promise<Round[]> {
  const n = task.count;
  const keys = simulatedIdentities(Array.from({ length: 2 * n }, (_, i) => task.first + i), SEED);
  const keepalive = keepaliveText();
  const clients: AgentClient[] = [];
  const bare: BareAgent[] = [];
  await connectAll(n, async (i) => {
    const c = newClient(keys[i]!, task.port, task.localAddress, task.level);
    clients.push(c);
    await c.start();
  });
  await connectAll(n, async (i) => {
    const a = new BareAgent(keys[n + i]!);
    bare.push(a);
    await a.connect(task.port, task.localAddress, keepalive);
  });

  const agentlinkSent = (): number => sum(clients.map((c) => c.stats().eventsSent));
  const bareSent = (): number => sum(bare.map((a) => a.sent));
  const feeders = {
    agentlink: (k: number): void => {
      for (const c of clients) for (let j = 0; j < k; j++) c.send(MESSAGE, LOCATION);
    },
    bare: (k: number): void => {
      for (const a of bare) for (let j = 0; j < k; j++) a.send(task.level);
    },
  };

  const run = async (side: 'agentlink' | 'bare', ms: number, measured: boolean): Promise<Round | undefined> => {
    const count = side === 'agentlink' ? agentlinkSent : bareSent;
    const feed = feeders[side];
    if (measured) await mark();
    const e0 = count();
    const c0 = cpuSeconds();
    const t0 = performance.now();
    let last = t0;
    let owed = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      owed = Math.min(BURST, owed + ((now - last) * RATE) / 1000);
      last = now;
      const k = Math.floor(owed);
      owed -= k;
      if (k > 0) feed(k);
    }, TICK_MS);
    await sleep(ms);
    clearInterval(timer);
    const round: Round = { side, events: count() - e0, cpu: cpuSeconds() - c0, wall: (performance.now() - t0) / 1000 };
    if (measured) await mark();
    // let the client buffers and the manager empty before the other side runs
    await sleep(300);
    return measured ? round : undefined;
  };

  // warm-up (JIT) of both sides, not measured
  await run('agentlink', 300, false);
  await run('bare', 300, false);
  const rounds: Round[] = [];
  for (let r = 0; r < task.rounds; r++) {
    const order: ('agentlink' | 'bare')[] = r % 2 === 0 ? ['agentlink', 'bare'] : ['bare', 'agentlink'];
    for (const side of order) rounds.push((await run(side, task.windowMs, true))!);
  }
  const dropped = sum(clients.map((c) => c.stats().buffer.dropped));
  if (dropped > 0) process.stderr.write(`[e2e bench] ${dropped} events dropped by full client buffers\n`);
  return rounds;
}

async function childMain(): Promise<void> {
  const send = (m: unknown): void => void process.send!(m);
  const task = await new Promise<ChildTask>((resolve) => process.once('message', (m) => resolve(m as ChildTask)));
  let marks = 0;
  const waiting = new Map<number, () => void>();
  process.on('message', (m: { type?: string; id?: number }) => {
    if (m.type === 'marked' && m.id !== undefined) waiting.get(m.id)?.();
  });
  const mark = (): Promise<void> =>
    new Promise((resolve) => {
      const id = ++marks;
      waiting.set(id, resolve);
      send({ type: 'mark', id });
    });
  const result = task.mode === 'idle' ? await childIdle(task, mark) : await childThroughput(task, mark);
  send({ type: 'result', result });
  process.disconnect();
  // sockets and timers die with the process: the manager sees the connections close
  process.exit(0);
}

// --- parent side ----------------------------------------------------------------------------------

/** A mark snapshot of the manager: events received and its CPU seconds. */
interface ManagerMark {
  received: number;
  cpu: number;
}

function runChild<T>(task: ChildTask, onMark?: () => Promise<void>): Promise<T> {
  const prof = process.env.AGENTLINK_E2E_PROF;
  const execArgv = ['--expose-gc', ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])];
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--e2e-child'], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<T>((resolve, reject) => {
    let result: T | undefined;
    child.on('message', (m: { type: string; id?: number; result?: T }) => {
      if (m.type === 'mark') {
        void (onMark ? onMark() : Promise.resolve()).then(() => child.send({ type: 'marked', id: m.id }));
      } else if (m.type === 'result') {
        result = m.result;
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (result !== undefined) resolve(result);
      else reject(new Error(`e2e bench child (${task.mode}) exited with code ${String(code)} before reporting`));
    });
    child.send(task);
  });
}

/**
 * Runs the end-to-end benchmark; prints progress on stderr.
 *
 * @param options - sizes (environment variables by default).
 * @returns the measured numbers.
 */
export async function benchE2e(options: BenchE2eOptions = {}): Promise<Record<string, number>> {
  const sizes = options.sizes ?? envList('AGENTLINK_E2E_SIZES', [1, 50, 1000]);
  const windowMs = options.windowMs ?? envInt('AGENTLINK_E2E_MS', 1000);
  const rounds = options.rounds ?? envInt('AGENTLINK_E2E_ROUNDS', 2);
  const idle = options.idleAgents ?? envInt('AGENTLINK_E2E_IDLE', 10_000, 0);
  const levels = options.levels ?? envList('AGENTLINK_E2E_LEVELS', [9, 0]);
  const otherSizes = options.otherSizes ?? envList('AGENTLINK_E2E_OTHER_SIZES', [50]);
  const note = (s: string): void => void process.stderr.write(`[e2e bench] ${s}\n`);

  // identities: idle agentlink, idle bare, then per (level, size) 2 × size for throughput
  let next = 0;
  const take = (n: number): number => {
    const first = next;
    next += n;
    return first;
  };
  const idleAgentlink = take(idle);
  const idleBare = take(idle);
  const plan = levels.flatMap((level, i) => (i === 0 ? sizes : sizes.length === 0 ? [] : otherSizes.filter((n) => n > 0)).map((size) => ({ level, size, first: take(2 * size) })));
  const keys = simulatedIdentities(Array.from({ length: next }, (_, i) => i), SEED);
  const cluster = await startEmbeddedCluster({ nodes: 1, keys, forked: true });
  const port = cluster.servers[0]!.port ?? 1514;
  const out: Record<string, number> = {};
  /** agentlink's events per agent-CPU-s by `size/level`, for the ratios to the Python floor. */
  const ourRates: { size: number; level: number; rate: number }[] = [];
  try {
    // --- handshakes and RSS ----------------------------------------------------------------------
    // raw first: the floor both sides are compared to (its server is this process: its CPU between
    // the child's marks is the server side's, this process does nothing else meanwhile)
    const perCpu: Record<string, { agent: number; manager: number }> = {};
    for (const kind of idle > 0 ? (['raw', 'agentlink', 'bare'] as const) : []) {
      const raw = kind === 'raw' ? await startRawServer() : undefined;
      // the bare loop at half: its rate per CPU second is the same (its RSS per agent carries more fixed cost)
      const count = kind === 'bare' ? Math.max(1, Math.round(idle / 2)) : idle;
      const marks: ManagerMark[] = [];
      const onMark = async (): Promise<void> => {
        marks.push({ received: 0, cpu: raw ? cpuSeconds() : processCpuSeconds(cluster.pid) });
      };
      let r: Record<string, number>;
      try {
        r = await runChild<Record<string, number>>(
          {
            mode: 'idle',
            kind,
            first: kind === 'agentlink' ? idleAgentlink : idleBare,
            count,
            port: raw ? raw.port : port,
            localAddress: undefined,
          },
          onMark,
        );
      } finally {
        if (raw) {
          for (const s of raw.sockets) s.destroy();
          raw.server.close();
        }
      }
      const managerCpu = marks.length >= 2 ? marks[1]!.cpu - marks[0]!.cpu : NaN;
      const side = kind === 'raw' ? 'server' : 'manager';
      perCpu[kind] = { agent: r.handshakesPerCpuSec!, manager: Math.round(count / managerCpu) };
      note(`${kind}: ${count} handshakes at ${r.handshakesPerSec}/s (${r.handshakesPerCpuSec}/agent-CPU-s, ${Math.round(count / managerCpu)}/${side}-CPU-s), RSS ${r.rssPerAgentKB} KB per idle agent`);
      out[`handshakes/s, ${count} agents (${kind})`] = r.handshakesPerSec!;
      out[`handshakes/agent-CPU-s (${kind})`] = r.handshakesPerCpuSec!;
      out[`handshakes/${side}-CPU-s (${kind}${kind === 'raw' ? '' : ' agents'})`] = Math.round(count / managerCpu);
      out[`agent-side system CPU share of handshakes (${kind})`] = r.systemCpuShare!;
      out[`RSS KB per idle agent, ${count} agents (${kind})`] = r.rssPerAgentKB!;
      if (kind === 'agentlink') {
        out['heap KB per idle agent (agentlink)'] = r.heapPerAgentKB!;
        out['external KB per idle agent (agentlink)'] = r.externalPerAgentKB!;
      }
      await sleep(300);
    }
    const floor = perCpu.raw;
    for (const kind of ['agentlink', 'bare'] as const) {
      const p = perCpu[kind];
      if (!floor || !p) continue;
      out[`ratio handshakes/agent-CPU-s ${kind}/raw`] = Number((p.agent / floor.agent).toFixed(3));
      out[`ratio handshakes/manager-CPU-s ${kind}/raw server`] = Number((p.manager / floor.manager).toFixed(3));
    }
    await sleep(500);

    // --- throughput ------------------------------------------------------------------------------
    for (const { level, size, first } of plan) {
      const marks: ManagerMark[] = [];
      const onMark = async (): Promise<void> => {
        marks.push({ received: await cluster.received(), cpu: processCpuSeconds(cluster.pid) });
      };
      const rs = await runChild<Round[]>({ mode: 'throughput', first, count: size, port, level, windowMs, rounds, localAddress: THROUGHPUT_SOURCE }, onMark);
      const perCpu = (r: Round): number => r.events / r.cpu;
      const ours = rs.filter((r) => r.side === 'agentlink');
      const bare = rs.filter((r) => r.side === 'bare');
      const ratios = ours.map((r, i) => perCpu(r) / perCpu(bare[i]!));
      // manager: every measured window, both sides (marks come in pairs around each round)
      let mEvents = 0;
      let mCpu = 0;
      for (let i = 0; i + 1 < marks.length; i += 2) {
        mEvents += marks[i + 1]!.received - marks[i]!.received;
        mCpu += marks[i + 1]!.cpu - marks[i]!.cpu;
      }
      const tag = `${size} agent${size === 1 ? '' : 's'}, level ${level}`;
      const oursRate = sum(ours.map((r) => r.events)) / sum(ours.map((r) => r.cpu));
      const bareRate = sum(bare.map((r) => r.events)) / sum(bare.map((r) => r.cpu));
      out[`events/agent-CPU-s, ${tag} (agentlink)`] = Math.round(oursRate);
      out[`events/agent-CPU-s, ${tag} (bare)`] = Math.round(bareRate);
      out[`ratio agentlink/bare, ${tag}`] = Number(median(ratios).toFixed(3));
      out[`events/s sent, ${tag} (agentlink)`] = Math.round(sum(ours.map((r) => r.events)) / sum(ours.map((r) => r.wall)));
      out[`manager events decoded/CPU-s, ${tag}`] = Math.round(mEvents / mCpu);
      note(`${tag}: agentlink ${Math.round(oursRate)}/CPU-s, bare ${Math.round(bareRate)}/CPU-s, manager ${Math.round(mEvents / mCpu)}/CPU-s`);
      // the floor sends unpaced over 50 sockets: only sizes of at least as many agents compare (one agent's
      // 1000 events a second carry the fixed per-tick costs of a process that is mostly idle)
      if (size >= PYTHON_SOCKETS) ourRates.push({ size, level, rate: oursRate });
      await sleep(300);
    }

    // --- the Python floor (bench/python.ts), with as many sockets as the 50 agents ---------
    if (ourRates.length > 0) {
      const py = await pythonFloor({ key: keys[0]!, plaintext: `1:${LOCATION}:${MESSAGE}`, sockets: PYTHON_SOCKETS, seconds: (rounds * windowMs) / 1000 });
      if (!py.ok) note(`python floor skipped: ${py.reason}`);
      else {
        note(`python floor (${py.interpreter}): ${Math.round(py.eventsPerCpuSec)}/CPU-s (${py.events} events in ${py.cpuSeconds.toFixed(2)} CPU-s)`);
        out[`events/CPU-s, ${PYTHON_SOCKETS} sockets (python floor)`] = Math.round(py.eventsPerCpuSec);
        for (const { size, level, rate } of ourRates) {
          out[`ratio agentlink/python floor, ${size} agents, level ${level}`] = Number((rate / py.eventsPerCpuSec).toFixed(3));
        }
      }
    }
  } finally {
    await cluster.close();
  }
  return out;
}

if (process.argv[2] === '--e2e-child') {
  await childMain();
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await benchE2e();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(56)} ${v}`);
}
