/**
 * Delivery modes under a node kill. An agent streams numbered events to a manager that dies
 * mid-stream, then moves on to another. With `delivery: 'at-least-once'` every event arrives
 * (duplicates at most `eventsRetransmitted`); with `at-most-once` (Wazuh's behaviour) only events
 * counted in `eventsUnconfirmedOnLostConnections` may be missing.
 *
 * Kills: SIGKILL of a manager process (`agentlink manager`, the way users run one), and
 * `MockCluster.kill` (every connection reset); directly over TCP and through a real HAProxy.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, formatClientKeys } from '../../../src/index.js';
import type { AgentClientStats } from '../../../src/agent/types.js';
import type { DeliveryMode, ServerOptions, AgentKey } from '../../../src/index.js';
import { MockCluster, KeyStore } from '../../../src/testing/index.js';
import { HaproxyBalancer } from '../../../src/testing/lb/index.js';
import { describeIfLb } from '../../helpers/require-lb.js';
import type { Cleanups } from './helpers.js';
import { runCleanups, until } from './helpers.js';

const root = new URL('../../../', import.meta.url).pathname;
const EVENTS = 2000;
const MODES: DeliveryMode[] = ['at-least-once', 'at-most-once'];

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

/** A node the test can kill: where it listens, what it received so far, and how it dies. */
interface Node {
  name: string;
  port: number;
  received(): string[];
  /** Whether this node has processed the agent's shutdown message (so every event before it too). */
  shutdownSeen(): boolean;
  kill(): Promise<void>;
}

/** `agentlink manager` in its own process; every received event is a JSON line on its stdout. */
async function managerProcess(name: string, keysFile: string): Promise<Node> {
  const child = spawn(process.execPath, [join(root, 'bin/agentlink.js'), 'manager', '--port', '0', '--keys', keysFile, '--name', name], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const events: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let rest = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`agentlink manager ${name} exited with ${code}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        const listening = /^listening tcp [\d.]+:(\d+)$/.exec(line);
        if (listening) resolve(Number(listening[1]));
        else if (line.startsWith('{')) events.push((JSON.parse(line) as { message: string }).message);
      }
    });
  });
  return {
    name,
    port,
    received: () => events,
    shutdownSeen: () => / disconnected$/m.test(stderr),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Two nodes: processes killed with SIGKILL, or a MockCluster whose nodes are killed in process. */
async function nodes(kind: 'process' | 'cluster', key: AgentKey, keys: KeyStore): Promise<Node[]> {
  if (kind === 'process') {
    const dir = await mkdtemp(join(tmpdir(), 'agentlink-kill-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'client.keys');
    await writeFile(file, formatClientKeys([key]));
    return [await managerProcess('node1', file), await managerProcess('node2', file)];
  }
  const cluster = new MockCluster({ nodes: 2, keys, managerOptions: { eventHistory: 0 } });
  cleanups.push(() => cluster.close());
  await cluster.start();
  const received = new Map<string, string[]>(cluster.nodeNames.map((n) => [n, []]));
  cluster.on('event', (e) => received.get(e.node)?.push(e.message));
  return cluster.servers().map((s) => ({
    name: s.name,
    port: s.port,
    received: () => received.get(s.name)!,
    shutdownSeen: () => cluster.isAlive(s.name) && cluster.node(s.name).statusOf(key.id) === 'disconnected',
    kill: () => cluster.kill(s.name),
  }));
}

interface Outcome {
  stats: AgentClientStats;
  missing: number;
  duplicates: number;
  reordered: boolean;
  killed: string;
}

/**
 * Streams EVENTS numbered events, kills the node receiving them once a third arrived, waits until
 * every event left the buffer (and, at-least-once, was confirmed), stops the agent and counts.
 */
async function streamThroughKill(delivery: DeliveryMode, ns: Node[], servers: ServerOptions[], key: AgentKey): Promise<Outcome> {
  const agent = new AgentClient({
    agent: key,
    servers,
    delivery,
    notifyTime: 500,
    timeReconnect: 3000,
    reconnect: { strategy: 'backoff', initialDelay: 50, maxDelay: 200, jitter: 0 },
    buffer: { queueSize: EVENTS, eventsPerSecond: 1000 },
    uname: 'Linux |kill |6.1 |#1 |x86_64',
  });
  agent.on('error', () => {});
  cleanups.push(() => agent.stop({ drainTimeout: 0 }));
  await agent.start();
  for (let i = 0; i < EVENTS; i++) expect(agent.send(`k${i}`, 'kill')).toBe(true);
  const total = () => ns.reduce((a, n) => a + n.received().length, 0);
  await until(() => total() >= EVENTS / 3, 10_000, 'a third of the events received');
  const victim = ns.find((n) => n.received().length > 0)!;
  await victim.kill();
  await until(
    () => {
      const s = agent.stats();
      return s.buffer.queued === 0 && s.retransmitWindow.events === 0 && s.state === 'connected';
    },
    20_000,
    'every event sent (and confirmed, at-least-once)',
  );
  await agent.stop();
  // the survivor printed or recorded every event once it processed the shutdown that followed them
  await until(() => ns.some((n) => n !== victim && n.shutdownSeen()), 10_000, 'the shutdown message processed');
  const stats = agent.stats();
  const seen = new Map<string, number>();
  for (const n of ns) for (const m of n.received()) seen.set(m, (seen.get(m) ?? 0) + 1);
  let missing = 0;
  let duplicates = 0;
  for (let i = 0; i < EVENTS; i++) {
    const c = seen.get(`k${i}`) ?? 0;
    if (c === 0) missing++;
    else duplicates += c - 1;
  }
  // within each node's connection(s) the events arrive in order (a retransmission restarts the sequence)
  let reordered = false;
  for (const n of ns) {
    const idx = n.received().filter((m) => m.startsWith('k')).map((m) => Number(m.slice(1)));
    const unique = [...new Set(idx)];
    for (let i = 1; i < unique.length; i++) if (unique[i]! < unique[i - 1]!) reordered = true;
  }
  console.info(
    `${delivery}, ${victim.name} killed: ${EVENTS} events, ${missing} missing, ${duplicates} duplicates, ` +
      `retransmitted ${stats.eventsRetransmitted}, unconfirmed on lost connections ${stats.eventsUnconfirmedOnLostConnections}, ` +
      `extra keepalives ${stats.retransmitWindow.extraKeepalives}, window high water ${stats.retransmitWindow.highWaterEvents} events`,
  );
  return { stats, missing, duplicates, reordered, killed: victim.name };
}

function check(delivery: DeliveryMode, o: Outcome): void {
  expect(o.stats.buffer.dropped).toBe(0);
  expect(o.reordered).toBe(false);
  if (delivery === 'at-least-once') {
    expect(o.missing).toBe(0);
    expect(o.duplicates).toBeLessThanOrEqual(o.stats.eventsRetransmitted);
    expect(o.stats.eventsUnconfirmedOnLostConnections).toBe(0);
  } else {
    expect(o.missing).toBeLessThanOrEqual(o.stats.eventsUnconfirmedOnLostConnections);
    expect(o.duplicates).toBe(0);
    expect(o.stats.eventsRetransmitted).toBe(0);
  }
}

function identity(): { key: AgentKey; keys: KeyStore } {
  const keys = new KeyStore();
  const [key] = keys.generate(1) as [AgentKey];
  return { key, keys };
}

describe('a node killed mid-stream, agent connected directly over TCP', () => {
  for (const kind of ['process', 'cluster'] as const) {
    for (const delivery of MODES) {
      it(`${delivery}: ${kind === 'process' ? 'SIGKILL of the manager process' : 'MockCluster.kill'}`, async () => {
        const { key, keys } = identity();
        const ns = await nodes(kind, key, keys);
        const o = await streamThroughKill(delivery, ns, ns.map((n) => ({ address: '127.0.0.1', port: n.port })), key);
        check(delivery, o);
      }, 60_000);
    }
  }
});

await describeIfLb('haproxy', 'a node killed mid-stream, agent connected through HAProxy (leastconn)', () => {
  for (const kind of ['process', 'cluster'] as const) {
    for (const delivery of MODES) {
      it(`${delivery}: ${kind === 'process' ? 'SIGKILL of the manager process' : 'MockCluster.kill'}`, async () => {
        const { key, keys } = identity();
        const ns = await nodes(kind, key, keys);
        const lb = await HaproxyBalancer.start({
          backends: ns.map((n) => ({ name: n.name, address: '127.0.0.1', port: n.port })),
          checkIntervalMs: 200,
        });
        cleanups.push(() => lb.stop());
        const o = await streamThroughKill(delivery, ns, [{ address: '127.0.0.1', port: lb.eventsPort }], key);
        check(delivery, o);
      }, 60_000);
    }
  }
});
