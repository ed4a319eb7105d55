import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { MockCluster, KeyStore } from '../../../src/testing/index.js';
import { until, useCleanup } from './fixtures.js';
import { ACK, LoopAgent, RawAgent } from './raw-agent.js';

const cleanup = useCleanup();

async function startCluster(nodes: number, agents: number) {
  const keys = new KeyStore();
  const k = keys.generate(agents);
  const cluster = new MockCluster({ nodes, keys });
  cleanup(() => cluster.close());
  await cluster.start();
  return { keys, k, cluster };
}

function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/** A leastconn balancer in miniature: counts the connections it hands out, per port. */
function leastconn(cluster: MockCluster) {
  const active = new Map<number, number>();
  return {
    pick: (): number => {
      let best = 0;
      let bestN = Infinity;
      for (const s of cluster.servers()) {
        if (!cluster.isAlive(s.name)) continue;
        const n = active.get(s.port) ?? 0;
        if (n < bestN) {
          best = s.port;
          bestN = n;
        }
      }
      active.set(best, (active.get(best) ?? 0) + 1);
      return best;
    },
    take: (port: number): number => {
      active.set(port, (active.get(port) ?? 0) + 1);
      return port;
    },
    release: (port: number): void => {
      active.set(port, (active.get(port) ?? 1) - 1);
    },
  };
}

function startLoopAgents(keys: ReturnType<KeyStore['generate']>, pick: () => number, release?: (p: number) => void): LoopAgent[] {
  const agents = keys.map((key) => new LoopAgent(key, pick, release));
  cleanup(() => {
    for (const a of agents) a.stop();
  });
  for (const a of agents) a.start();
  return agents;
}

describe('MockCluster', () => {
  it('starts N nodes named node1..nodeN on distinct ports that share the key store', async () => {
    const { k, cluster } = await startCluster(3, 3);
    const servers = cluster.servers();
    expect(servers.map((s) => s.name)).toEqual(['node1', 'node2', 'node3']);
    expect(new Set(servers.map((s) => s.port)).size).toBe(3);
    expect(cluster.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    for (const [i, s] of servers.entries()) {
      const a = await RawAgent.tcp(k[i]!, s.port);
      cleanup(() => a.close());
      expect(await a.handshake()).toBe(ACK);
    }
    expect(cluster.distribution()).toEqual({ node1: 1, node2: 1, node3: 1 });
    expect(cluster.agentNode(k[1]!.id)).toBe('node2');
    expect(() => cluster.node('node9')).toThrow(/no node 'node9'/);
  });

  it('kill resets connections and closes the port; restart listens again on the same port', async () => {
    const { k, cluster } = await startCluster(2, 1);
    const port = cluster.servers()[0]!.port;
    const a = await RawAgent.tcp(k[0]!, port);
    cleanup(() => a.close());
    await a.handshake();
    const old = cluster.node('node1');
    await cluster.kill('node1');
    expect(await a.waitClosed()).toBe(true);
    expect(a.errors).toContain('ECONNRESET');
    expect(await tryConnect(port)).toBe('ECONNREFUSED');
    expect(cluster.isAlive('node1')).toBe(false);
    expect(cluster.distribution()).toEqual({ node1: 0, node2: 0 });
    expect(old.agent(k[0]!.id)!.status).toBe('disconnected');
    expect(await cluster.restart('node1')).toBe(port);
    expect(cluster.node('node1')).not.toBe(old);
    const b = await RawAgent.tcp(k[0]!, port);
    cleanup(() => b.close());
    expect(await b.handshake()).toBe(ACK);
    expect(cluster.distribution()).toEqual({ node1: 1, node2: 0 });
  });

  it('agents failing over after a kill are recognised on the next node; the old node shows them disconnected', async () => {
    const { k, cluster } = await startCluster(3, 12);
    const ports = cluster.servers().map((s) => s.port);
    // A server list walk: node1 first, then the next one on each failure.
    const cursor = new Map<string, number>();
    const agents = k.map((key) => {
      const a = new LoopAgent(key, () => {
        const i = cursor.get(key.id) ?? 0;
        cursor.set(key.id, i + 1);
        return ports[i % ports.length]!;
      });
      cleanup(() => a.stop());
      a.start();
      return a;
    });
    await cluster.waitForAgents(12);
    expect(cluster.distribution()).toEqual({ node1: 12, node2: 0, node3: 0 });
    const node1 = cluster.node('node1');
    await cluster.kill('node1');
    await cluster.waitForAgents(12, { timeout: 5000 });
    expect(cluster.distribution()).toEqual({ node1: 0, node2: 12, node3: 0 });
    for (const key of k) {
      expect(cluster.agentNode(key.id)).toBe('node2');
      expect(node1.agent(key.id)!.status).toBe('disconnected');
    }
    expect(cluster.agents().every((r) => r.node === 'node2' && r.status === 'active')).toBe(true);
    expect(agents.every((a) => a.port === ports[1])).toBe(true);
  });

  it('rebalance moves exactly the excess over the mean in chunks, as the HAProxy helper does', async () => {
    const { k, cluster } = await startCluster(3, 30);
    const lb = leastconn(cluster);
    let initial = true;
    const node1Port = cluster.servers()[0]!.port;
    startLoopAgents(k, () => (initial ? lb.take(node1Port) : lb.pick()), lb.release);
    await cluster.waitForAgents(30);
    expect(cluster.distribution()).toEqual({ node1: 30, node2: 0, node3: 0 });
    initial = false;
    const node1 = cluster.node('node1');
    const t0 = performance.now();
    const result = await cluster.rebalance({ chunkSize: 7, chunkDelay: 40 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * 40 - 5); // three chunks: 7, 7, 6
    expect(result).toMatchObject({ before: { node1: 30, node2: 0, node3: 0 }, moved: 20, balanced: false, mean: 10, excess: { node1: 20 } });
    await until(() => {
      const d = cluster.distribution();
      return d.node1 === 10 && d.node2 === 10 && d.node3 === 10;
    }, 5000);
    const moved = k.filter((key) => cluster.agentNode(key.id) !== 'node1');
    expect(moved).toHaveLength(20);
    for (const key of moved) expect(node1.agent(key.id)!.status).toBe('disconnected');
    await cluster.waitForAgents(30);
    expect(await cluster.rebalance()).toMatchObject({ moved: 0, balanced: true });
  });

  it('rebalance judges external counts (for example HAProxy scur) and leaves a balanced cluster alone', async () => {
    const { k, cluster } = await startCluster(2, 4);
    const ports = cluster.servers().map((s) => s.port);
    for (const [i, key] of k.entries()) {
      const a = await RawAgent.tcp(key, ports[i % 2]!);
      cleanup(() => a.close());
      await a.handshake();
    }
    expect(await cluster.rebalance({ counts: { node1: 2, node2: 2 } })).toMatchObject({ balanced: true, moved: 0 });
    expect(await cluster.rebalance({ counts: { node1: 3, node2: 2 } })).toMatchObject({ balanced: true, moved: 0 });
    const r = await cluster.rebalance({ counts: { node1: 6, node2: 2 }, chunkDelay: 0 });
    expect(r).toMatchObject({ balanced: false, mean: 4, excess: { node1: 2 }, moved: 2 });
  });

  it('rebalance stops between chunks when its signal aborts', async () => {
    const { k, cluster } = await startCluster(2, 4);
    const port = cluster.servers()[0]!.port;
    for (const key of k) {
      const a = await RawAgent.tcp(key, port);
      cleanup(() => a.close());
      await a.handshake();
    }
    const ac = new AbortController();
    const p = cluster.rebalance({ chunkSize: 1, chunkDelay: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    await expect(p).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('runs one authd on the shared key store: an agent enrolled there connects to any node', async () => {
    const cluster = new MockCluster({ nodes: 2, authd: true });
    cleanup(() => cluster.close());
    const started = await cluster.start();
    expect(started.authd).toBeGreaterThan(0);
    const { connect: tlsConnect } = await import('node:tls');
    const reply = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: started.authd!, rejectUnauthorized: false }, () => s.write("OSSEC A:'edge1' V:'v4.14.7'\n"));
      let buf = '';
      s.on('data', (d: Buffer) => (buf += d.toString()));
      s.on('close', () => resolve(buf));
      s.on('error', reject);
    });
    const m = /^OSSEC K:'(\d+) (\S+) (\S+) ([0-9a-f]{64})'/.exec(reply)!;
    const key = { id: m[1]!, name: m[2]!, ip: m[3]!, key: m[4]! };
    for (const s of cluster.servers()) {
      const a = await RawAgent.tcp(key, s.port);
      cleanup(() => a.close());
      expect(await a.handshake()).toBe(ACK);
      a.close();
    }
    expect(cluster.statusInfo(key.id)?.status).toBe('pending');
  });

  it('merges events and stats across nodes and ends events() on close', async () => {
    const { k, cluster } = await startCluster(2, 2);
    const it = cluster.events();
    for (const [i, s] of cluster.servers().entries()) {
      const a = await RawAgent.tcp(k[i]!, s.port);
      cleanup(() => a.close());
      a.send(`1:app:hello from ${s.name}`);
    }
    const evs = await cluster.waitForEvents(2);
    expect(evs.map((e) => e.node).sort()).toEqual(['node1', 'node2']);
    expect(cluster.stats().eventsReceived).toBe(2);
    expect((await it.next()).value?.message).toMatch(/^hello from node/);
    await cluster.close();
    await it.next();
    expect((await it.next()).done).toBe(true);
  });
});

describe('MockCluster nodes joining and leaving', () => {
  /** Agents walking a server list (the next entry after a failure), as agents without a balancer do. */
  function listAgents(keys: ReturnType<KeyStore['generate']>, ports: readonly number[]): LoopAgent[] {
    return keys.map((key) => {
      let i = 0;
      const a = new LoopAgent(key, () => ports[i++ % ports.length]!);
      cleanup(() => a.stop());
      a.start();
      return a;
    });
  }

  it('addNode starts a node on the shared key store under the next free name, emits nodeAdded and nodeUp, and refuses a name in use', async () => {
    const { k, cluster } = await startCluster(2, 3);
    const seen: string[] = [];
    cluster.on('nodeAdded', (n, port) => seen.push(`added ${n} ${port}`));
    cluster.on('nodeUp', (n, port) => seen.push(`up ${n} ${port}`));
    const node3 = await cluster.addNode();
    expect(node3).toMatchObject({ name: 'node3', address: '127.0.0.1', protocol: 'tcp' });
    expect(node3.port).toBeGreaterThan(0);
    expect(seen).toEqual([`added node3 ${node3.port}`, `up node3 ${node3.port}`]);
    expect(cluster.nodeNames).toEqual(['node1', 'node2', 'node3']);
    expect(cluster.servers().at(-1)).toEqual(node3);
    // an agent known before the node joined is recognised there
    const a = await RawAgent.tcp(k[2]!, node3.port);
    cleanup(() => a.close());
    expect(await a.handshake()).toBe(ACK);
    expect(cluster.distribution()).toEqual({ node1: 0, node2: 0, node3: 1 });
    expect((await cluster.addNode('edge')).name).toBe('edge');
    await expect(cluster.addNode('node1')).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('already in use') });
    await expect(cluster.addNode('')).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    expect(cluster.nodeNames).toEqual(['node1', 'node2', 'node3', 'edge']);
    await cluster.close();
    await expect(cluster.addNode()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });

  it('removeNode drains: the node refuses new connections, its agents are asked to reconnect in chunks and move down their server list; none is left behind', async () => {
    const { k, cluster } = await startCluster(3, 12);
    const ports = cluster.servers().map((s) => s.port);
    const agents = listAgents(k, [ports[1]!, ports[2]!, ports[0]!]);
    await cluster.waitForAgents(12);
    expect(cluster.distribution()).toEqual({ node1: 0, node2: 12, node3: 0 });
    for (const a of agents) a.current!.send('1:app:before');
    await cluster.waitForEvents(12);
    const removed: string[] = [];
    cluster.on('nodeRemoved', (n, r) => removed.push(`${n} ${r.leftBehind}`));
    const t0 = performance.now();
    const result = await cluster.removeNode('node2', { chunkSize: 5, chunkDelay: 50 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(2 * 50 - 5); // chunks of 5, 5, 2
    expect(result).toMatchObject({ node: 'node2', agentsBefore: 12, asked: 12, leftBehind: 0 });
    expect(removed).toEqual(['node2 0']);
    expect(cluster.nodeNames).toEqual(['node1', 'node3']);
    expect(() => cluster.node('node2')).toThrow(/no node 'node2'/);
    expect(await tryConnect(ports[1]!)).toBe('ECONNREFUSED');
    await cluster.waitForAgents(12, { timeout: 5000 });
    expect(cluster.distribution()).toEqual({ node1: 0, node3: 12 });
    // the departed node's events stay counted
    expect(cluster.stats().eventsReceived).toBe(12);
    await expect(cluster.removeNode('node9')).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    await cluster.removeNode('node1');
    await expect(cluster.removeNode('node3')).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringContaining('last node') });
    await expect(cluster.removeNode('node3', { chunkSize: 0 })).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });

  it('removeNode without drain stops the node at once and counts its agents as left behind; a new node may take the name again', async () => {
    const { k, cluster } = await startCluster(2, 3);
    const port = cluster.servers()[0]!.port;
    const raw = await Promise.all(k.map((key) => RawAgent.tcp(key, port)));
    for (const a of raw) cleanup(() => a.close());
    for (const a of raw) expect(await a.handshake()).toBe(ACK);
    const result = await cluster.removeNode('node1', { drain: false });
    expect(result).toMatchObject({ agentsBefore: 3, asked: 0, leftBehind: 3 });
    for (const a of raw) expect(await a.waitClosed()).toBe(true);
    expect(raw.every((a) => a.inbox.every((m) => m.text !== '#!-force_reconnect'))).toBe(true);
    expect(cluster.distribution()).toEqual({ node2: 0 });
    const back = await cluster.addNode('node1');
    expect(cluster.nodeNames).toEqual(['node2', 'node1']);
    expect(back.port).not.toBe(0);
  });

  it('removeNode counts the agents that did not leave by the deadline as left behind', async () => {
    const { k, cluster } = await startCluster(2, 2);
    const port = cluster.servers()[0]!.port;
    // raw agents that ignore #!-force_reconnect
    const raw = await Promise.all(k.map((key) => RawAgent.tcp(key, port)));
    for (const a of raw) cleanup(() => a.close());
    for (const a of raw) await a.handshake();
    const result = await cluster.removeNode('node1', { timeout: 100 });
    expect(result).toMatchObject({ agentsBefore: 2, asked: 2, leftBehind: 2 });
    expect(result.drainedMs).toBeGreaterThanOrEqual(95);
    for (const a of raw) {
      expect(a.inbox.some((m) => m.text === '#!-force_reconnect')).toBe(true);
      expect(await a.waitClosed()).toBe(true);
    }
  });
});
