/**
 * Sender-counter persistence (protocol.md 3.5): an agent process killed with SIGKILL and started
 * again on the same counter file continues above its old counters, so a manager that verifies
 * counters (`verifyCounters`, one MockManager instance keeping the rids across connections)
 * accepts it. A corrupt counter file stops the agent (`onCorrupt: 'throw'`) or is recovered
 * forward, never backwards (`onCorrupt: 'skip-ahead'`).
 *
 * The agent runs in a child process built from dist/ (test/global-setup.ts builds it when stale).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, FileCounterStore, compareCounters, parseCounterText, CounterStoreError, MAX_LOCAL_COUNTER } from '../../../src/index.js';
import type { AgentlinkError, AgentKey, MessageCounter } from '../../../src/index.js';
import { KeyStore, MockManager } from '../../../src/testing/index.js';
import type { Cleanups } from './helpers.js';
import { runCleanups, sleep, until } from './helpers.js';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

const DIST = new URL('../../../dist/src/index.js', import.meta.url).href;

/** The agent program run in the child: connect, send events (a burst, or a steady stream), never exit by itself. */
const CHILD = `
const { AgentClient, FileCounterStore } = await import(process.env.AGENTLINK_DIST);
const cfg = JSON.parse(process.env.RELIABILITY_CFG);
const store = new FileCounterStore(cfg.path, { flushIntervalMs: 0, skipAheadOnLoad: cfg.skipAheadOnLoad });
const client = new AgentClient({
  agent: cfg.key,
  servers: [{ address: '127.0.0.1', port: cfg.port, maxRetries: 1000, retryInterval: 100 }],
  notifyTime: 60000,
  timeReconnect: 180000,
  handshakeTimeout: 5000,
  counterStore: store,
  buffer: { eventsPerSecond: 1000 },
  uname: 'Linux |crashy |6.1 |#1 |x86_64',
});
client.on('error', (e) => process.stdout.write(JSON.stringify({ error: e.code }) + '\\n'));
await client.start();
process.stdout.write(JSON.stringify({ started: true }) + '\\n');
let i = 0;
if (cfg.mode === 'burst') for (; i < cfg.count; i++) client.send(cfg.tag + ' ' + i, 'persist');
else setInterval(() => { for (let k = 0; k < 10; k++) client.send(cfg.tag + ' ' + i++, 'persist'); }, 10);
setInterval(() => {}, 1 << 30);
`;

interface ChildConfig {
  key: AgentKey;
  port: number;
  path: string;
  tag: string;
  mode: 'burst' | 'stream';
  count?: number;
  skipAheadOnLoad?: number;
}

function runAgentProcess(cfg: ChildConfig): { child: ChildProcess; errors: string[]; exited: Promise<NodeJS.Signals | null> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: { ...process.env, AGENTLINK_DIST: DIST, RELIABILITY_CFG: JSON.stringify(cfg) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      const msg = JSON.parse(line) as { error?: string };
      if (msg.error !== undefined) errors.push(msg.error);
    }
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    if (stderr.trim() !== '' && !stderr.includes('ExperimentalWarning')) console.warn(`[child stderr] ${stderr.slice(0, 2000)}`);
  });
  return { child, errors, exited };
}

/** Messages sent up to and including a counter (the wire order of protocol.md 3.1 step 1). */
function ordinal(c: MessageCounter): number {
  return c.global * MAX_LOCAL_COUNTER + c.local;
}

async function setup(): Promise<{ m: MockManager; key: AgentKey; dir: string; path: string }> {
  const keys = new KeyStore();
  const [key] = keys.generate(1) as [AgentKey];
  const m = new MockManager({ keys, verifyCounters: true, disconnectOnClose: true });
  cleanups.push(() => m.close());
  await m.start();
  const dir = await mkdtemp(join(tmpdir(), 'agentlink-counter-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { m, key, dir, path: join(dir, 'sender_counter') };
}

function eventsTagged(m: MockManager, tag: string): number {
  return m.receivedEvents().filter((e) => e.location === 'persist' && e.message.startsWith(`${tag} `)).length;
}

describe('sender counter persistence across a crash', () => {
  it('an agent killed with SIGKILL and restarted on the same file continues above its old counters; the verifying manager accepts it at once', async () => {
    const { m, key, path } = await setup();
    const first = runAgentProcess({ key, port: m.port, path, tag: 'run1', mode: 'burst', count: 300 });
    await m.waitForEvents((e) => e.message === 'run1 299', { timeout: 10_000 });
    await sleep(300); // quiet: no keepalive before 60 s, so nothing else is sent
    const lastSeen = m.agent(key.id)!.counter!;
    const onDisk = parseCounterText(await readFile(path, 'latin1'))!;
    // flushIntervalMs 0: once quiet, the file holds exactly the last counter the manager accepted
    expect(onDisk).toEqual(lastSeen);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    await until(() => !m.agent(key.id)!.connected, 3000, 'manager saw the connection close');

    const second = runAgentProcess({ key, port: m.port, path, tag: 'run2', mode: 'burst', count: 50 });
    await m.waitForEvents((e) => e.message === 'run2 49', { timeout: 10_000 });
    const st = m.stats();
    expect(st.counterRejections).toBe(0);
    expect(st.connectionsTotal).toBe(2); // accepted at the first attempt
    expect(eventsTagged(m, 'run1')).toBe(300);
    expect(eventsTagged(m, 'run2')).toBe(50);
    expect(compareCounters(m.agent(key.id)!.counter!, lastSeen)).toBeGreaterThan(0);
    expect(second.errors).toEqual([]);
  });

  it('killed mid-stream, the file may trail the wire by the writes in flight; skipAheadOnLoad covers that gap and the restart is accepted at once', async () => {
    const { m, key, path } = await setup();
    const first = runAgentProcess({ key, port: m.port, path, tag: 'run1', mode: 'stream' });
    await until(() => eventsTagged(m, 'run1') >= 300, 10_000, '300 events streamed');
    first.child.kill('SIGKILL'); // while events keep flowing at 1000 per second
    await first.exited;
    await until(() => !m.agent(key.id)!.connected, 3000, 'manager saw the connection close');
    const lastSeen = m.agent(key.id)!.counter!;
    const onDisk = parseCounterText(await readFile(path, 'latin1'))!;
    const gap = ordinal(lastSeen) - ordinal(onDisk);
    // one global step (9997 messages) is far more than a process can have in flight
    expect(gap).toBeLessThan(MAX_LOCAL_COUNTER);

    const second = runAgentProcess({ key, port: m.port, path, tag: 'run2', mode: 'burst', count: 20, skipAheadOnLoad: 1 });
    await m.waitForEvents((e) => e.message === 'run2 19', { timeout: 10_000 });
    expect(m.stats().counterRejections).toBe(0);
    expect(m.stats().connectionsTotal).toBe(2);
    const now = m.agent(key.id)!.counter!;
    expect(now.global).toBeGreaterThanOrEqual(onDisk.global + 1);
    expect(second.errors).toEqual([]);
    console.info(
      `[reliability] SIGKILL mid-stream after ${eventsTagged(m, 'run1')} events: file ${onDisk.global}:${onDisk.local}, ` +
        `manager last ${lastSeen.global}:${lastSeen.local} (file behind by ${gap} messages); restart at global ${now.global} accepted`,
    );
  });
});

describe('a corrupt sender counter file', () => {
  function client(key: AgentKey, port: number, store: FileCounterStore, errors: AgentlinkError[]): AgentClient {
    const c = new AgentClient({
      agent: key,
      servers: [{ address: '127.0.0.1', port, maxRetries: 3, retryInterval: 100 }],
      notifyTime: 60_000,
      counterStore: store,
      buffer: { eventsPerSecond: 1000 },
      uname: 'Linux |counter |6.1 |#1 |x86_64',
    });
    c.on('error', (e) => errors.push(e));
    cleanups.push(() => c.stop({ drainTimeout: 0 }));
    return c;
  }

  it("onCorrupt 'throw': start() rejects with CounterStoreError, 'error' and 'closed' carry it, nothing is sent and the file is left as it was", async () => {
    const { m, key, path } = await setup();
    await writeFile(path, 'garbage\u0000not a counter');
    const errors: AgentlinkError[] = [];
    const c = client(key, m.port, new FileCounterStore(path, { onCorrupt: 'throw' }), errors);
    const closed = new Promise<AgentlinkError | undefined>((resolve) => c.once('closed', ({ reason }) => resolve(reason)));
    const failure = await c.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(CounterStoreError);
    expect((failure as CounterStoreError).message).toContain(path);
    expect(errors.map((e) => e.code)).toEqual(['ERR_COUNTER_STORE']);
    expect(await closed).toBe(failure);
    expect(c.state).toBe('closed');
    expect(m.stats().connectionsTotal).toBe(0);
    expect(await readFile(path, 'latin1')).toBe('garbage\u0000not a counter');
  });

  it('after await stop() the file already holds the counter of the shutdown message (a process may exit right away)', async () => {
    const { m, key, path } = await setup();
    const errors: AgentlinkError[] = [];
    const c = client(key, m.port, new FileCounterStore(path, { flushIntervalMs: 0 }), errors);
    await c.start();
    for (let i = 0; i < 10; i++) c.send(`ev ${i}`, 'persist');
    await m.waitForEvents((e) => e.message === 'ev 9', { timeout: 5000 });
    await c.stop();
    const onDisk = parseCounterText(await readFile(path, 'latin1'));
    await until(() => m.statusOf(key.id) === 'disconnected', 3000, 'shutdown received');
    expect(onDisk).toEqual(m.agent(key.id)!.counter);
    // so an agent started again at once on the same file is accepted at its first attempt
    const again = client(key, m.port, new FileCounterStore(path, { flushIntervalMs: 0 }), errors);
    await again.start();
    expect(m.stats().counterRejections).toBe(0);
    expect(m.stats().connectionsTotal).toBe(2);
    expect(errors).toEqual([]);
  });

  it("onCorrupt 'skip-ahead': recovers from the backup, jumps at least skipAheadMargin global steps ahead, and the verifying manager accepts", async () => {
    const { m, key, path } = await setup();
    const errors: AgentlinkError[] = [];
    const c1 = client(key, m.port, new FileCounterStore(path, { onCorrupt: 'skip-ahead', flushIntervalMs: 0 }), errors);
    await c1.start();
    for (let i = 0; i < 30; i++) c1.send(`before ${i}`, 'persist');
    await m.waitForEvents((e) => e.message === 'before 29', { timeout: 5000 });
    await c1.stop();
    const before = m.agent(key.id)!.counter!;
    await writeFile(path, '###'); // corrupted, e.g. by a disk or a careless admin

    const store = new FileCounterStore(path, { onCorrupt: 'skip-ahead', flushIntervalMs: 0 });
    const c2 = client(key, m.port, store, errors);
    await c2.start();
    c2.send('after recovery', 'persist');
    await m.waitForEvents((e) => e.message === 'after recovery', { timeout: 5000 });
    const after = m.agent(key.id)!.counter!;
    expect(after.global).toBeGreaterThanOrEqual(before.global + 100);
    expect(m.stats().counterRejections).toBe(0);
    expect(errors).toEqual([]);
    await c2.stop();
    // the file is valid again and not behind the wire
    expect(compareCounters(parseCounterText(await readFile(path, 'latin1'))!, after)).toBeGreaterThanOrEqual(0);
  });

  it("onCorrupt 'skip-ahead' with no usable backup refuses to start rather than reset to 0", async () => {
    const { m, key, path } = await setup();
    await writeFile(path, 'not a counter');
    await unlink(`${path}.bak`).catch(() => undefined);
    const errors: AgentlinkError[] = [];
    const c = client(key, m.port, new FileCounterStore(path, { onCorrupt: 'skip-ahead' }), errors);
    await expect(c.start()).rejects.toBeInstanceOf(CounterStoreError);
    expect(errors.map((e) => e.code)).toEqual(['ERR_COUNTER_STORE']);
    expect(m.stats().connectionsTotal).toBe(0);
  });
});
