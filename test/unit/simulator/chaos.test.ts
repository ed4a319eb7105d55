/**
 * The one chaos vocabulary: every step's text form parses into the {@link ChaosStep} union and
 * prints back the same; the soak's seeded plans are ordinary steps that print as `--chaos` text; and
 * the {@link ChaosRunner} runs each step at its time against a cluster (here a recording fake, on
 * fake timers): timed faults end, the runner skips what cannot apply, node selectors resolve when
 * the step runs, and stop() ends every fault in force.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { ToolError } from 'agentlink';
import { ChaosRunner, formatChaosStep, parseChaos, parseChaosStep, planChaos } from 'agentlink/simulator';
import type { ChaosStep, ChaosTarget, PathFault } from 'agentlink/simulator';

describe('chaos steps as text', () => {
  test('every action has a text form that parses into the step union', () => {
    expect(parseChaos('kill:node1@20s+10s, restart:node1@40s, hang:node2@5s+3s, blackhole:node3@6s', 3)).toEqual([
      { action: 'hang', node: 'node2', atMs: 5000, forMs: 3000 },
      { action: 'blackhole', node: 'node3', atMs: 6000 },
      { action: 'kill', node: 'node1', atMs: 20_000, forMs: 10_000 },
      { action: 'restart', node: 'node1', atMs: 40_000 },
    ]);
    expect(parseChaosStep('latency:node2=300ms@5s+2s', 3)).toEqual({ action: 'latency', node: 'node2', atMs: 5000, latencyMs: 300, forMs: 2000 });
    expect(parseChaosStep('reset:busiest@1m', 3)).toEqual({ action: 'reset', node: 'busiest', atMs: 60_000 });
    expect(parseChaosStep('cut:node1=up@1s', 3)).toEqual({ action: 'cut', node: 'node1', atMs: 1000, direction: 'up' });
    expect(parseChaosStep('cut:last-killed@1s', 3)).toEqual({ action: 'cut', node: 'last-killed', atMs: 1000 });
    expect(parseChaosStep('force-reconnect:25@30s', 3)).toEqual({ action: 'force-reconnect', atMs: 30_000, count: 25 });
    expect(parseChaosStep('force-reconnect:5%@30s', 3)).toEqual({ action: 'force-reconnect', atMs: 30_000, fraction: 0.05 });
    expect(parseChaosStep('rebalance@24s', 3)).toEqual({ action: 'rebalance', atMs: 24_000 });
    expect(parseChaos('remove:node2@40s,add:node4@30s,kill:node4@50s+5s,remove:node4@1m', 3)).toEqual([
      { action: 'add', node: 'node4', atMs: 30_000 },
      { action: 'remove', node: 'node2', atMs: 40_000 },
      { action: 'kill', node: 'node4', atMs: 50_000, forMs: 5000 },
      { action: 'remove', node: 'node4', atMs: 60_000 },
    ]);
  });

  test('formatting a step gives the text it parses from', () => {
    for (const text of [
      'kill:node1@20s+10s',
      'kill:busiest@10s',
      'restart:last-killed@20s',
      'hang:node2@5s+3s',
      'blackhole:node3@1500ms+1m',
      'latency:node2=300ms@5s+2s',
      'latency:node2=1s@5s',
      'reset:node1@1m',
      'cut:node1=down@1s',
      'cut:node1@1s',
      'force-reconnect:25@30s',
      'force-reconnect:2.5%@30s',
      'rebalance@24s',
      'add:node4@30s',
      'remove:node2@40s',
      'remove:busiest@40s',
    ]) {
      expect(formatChaosStep(parseChaosStep(text, 3))).toBe(text);
    }
  });

  test('a seeded soak plan is a list of ordinary steps that round-trips through the --chaos text form', () => {
    const plan = planChaos({ durationMs: 60_000, nodes: 3, agents: 500, seed: 'round-trip', settings: { meanIntervalMs: 700 } });
    expect(new Set(plan.map((s) => s.action))).toEqual(new Set(['kill', 'hang', 'blackhole', 'latency', 'reset', 'cut', 'force-reconnect']));
    const text = plan.map(formatChaosStep).join(',');
    expect(parseChaos(text, 3)).toEqual(plan);
  });

  test.each([
    ['explode:node1@1s', /unknown action 'explode'/],
    ['kill@1s', /name the node, e\.g\. kill:node1@1s/],
    ['kill:node4@1s', /unknown node 'node4'; the cluster has node1\.\.node3/],
    ['add:node2@1s', /add names a new node, node4 or above/],
    ['add@1s', /name the node, e\.g\. add:node1@1s/],
    ['add:node4@1s+5s', /add happens at once and takes no \+duration/],
    ['add:node4@1s,add:node4@2s', /node4 is added twice/],
    ['remove:node5@1s,add:node4@2s', /unknown node 'node5'; the cluster has node1\.\.node3 \(--cluster 3\), the nodes add steps name \(node4\)/],
    ['kill:node4@1s,add:node4@2s', /node4 joins at 2s; act on it after that/],
    ['kill:node1', /must look like kill:node1@20s/],
    ['reset:node1@1s+2s', /reset happens at once and takes no \+duration/],
    ['kill:node1@1s+0s', /duration after \+ must be longer than 0/],
    ['latency:node1@1s', /give the delay, e\.g\. latency:node1=300ms@1s/],
    ['latency:node1=fast@1s', /delay 'fast' is not a duration/],
    ['cut:node1=sideways@1s', /cut=up, cut=down or cut=both, not 'sideways'/],
    ['kill:node1=3@1s', /kill takes no =value/],
    ['force-reconnect@1s', /say how many agents, e\.g\. force-reconnect:25@1s/],
    ['force-reconnect:150%@1s', /say how many agents/],
    ['rebalance:node1@1s', /rebalance acts on the whole cluster/],
  ])('%s is refused with a usage error that says what to write', (text, message) => {
    let err: unknown;
    try {
      parseChaos(text, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('ERR_USAGE');
    expect((err as ToolError).message).toMatch(message);
  });
});

/** A cluster that records what it is told. */
function fakeCluster(options: { faultPaths?: boolean; distribution?: Record<string, number> } = {}): ChaosTarget & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    nodes: ['node1', 'node2', 'node3'],
    agents: 100,
    faultPaths: options.faultPaths ?? true,
    kill: async (n) => void calls.push(`kill ${n}`),
    restart: async (n) => void calls.push(`restart ${n}`),
    hang: async (n, on) => void calls.push(`hang ${n} ${on}`),
    resetConnections: async (n) => {
      calls.push(`resetConnections ${n}`);
      return 4;
    },
    pathFault: async (n, f: PathFault) => {
      calls.push(`path ${n} ${JSON.stringify(f)}`);
      return 7;
    },
    forceReconnect: async (agents) => {
      calls.push(`forceReconnect ${agents.length} ${new Set(agents).size}`);
      return agents.length;
    },
    distribution: async () => options.distribution ?? { node1: 10, node2: 30, node3: 20 },
    rebalance: async () => ({ moved: 12, balanced: false, before: {} }),
    addNode: async (n) => {
      calls.push(`addNode ${n}`);
      return { address: '127.0.0.1', port: 1514, moved: 0 };
    },
    removeNode: async (n) => {
      calls.push(`removeNode ${n}`);
      return { moved: 0, leftBehind: 0 };
    },
  };
}

/**
 * A cluster of 60 agents behind a balancer that moves the share of an added node to it, and the
 * agents of a leaving node to the others; the agents it moves reconnect 300 ms later.
 */
function balancedCluster(): ChaosTarget & { calls: string[]; dist: Record<string, number> } {
  const c = fakeCluster();
  const dist: Record<string, number> = { node1: 20, node2: 20, node3: 20 };
  const later = (fn: () => void): void => void setTimeout(fn, 300);
  Object.defineProperty(c, 'nodes', { get: () => Object.keys(dist) });
  return Object.assign(c, {
    dist,
    distribution: async () => ({ ...dist }),
    addNode: async (n: string) => {
      c.calls.push(`addNode ${n}`);
      const old = Object.keys(dist);
      dist[n] = 0;
      const share = Math.floor(60 / (old.length + 1));
      const each = Math.floor(share / old.length);
      for (const o of old) dist[o]! -= each;
      later(() => (dist[n] = each * old.length));
      return { address: '127.0.0.1', port: 1600, moved: each * old.length };
    },
    removeNode: async (n: string) => {
      c.calls.push(`removeNode ${n}`);
      const moved = dist[n]!;
      delete dist[n];
      const rest = Object.keys(dist);
      later(() => rest.forEach((o, i) => (dist[o]! += Math.floor(moved / rest.length) + (i < moved % rest.length ? 1 : 0))));
      return { moved, leftBehind: 0 };
    },
  });
}

describe('ChaosRunner', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const run = (steps: ChaosStep[], target: ChaosTarget, extra: Partial<ConstructorParameters<typeof ChaosRunner>[0]> = {}): ChaosRunner => {
    const r = new ChaosRunner({ target, steps, ...extra });
    r.start();
    return r;
  };

  test('add and remove record the agents per node before and once every agent is connected again', async () => {
    const c = balancedCluster();
    const lines: string[] = [];
    const steps: ChaosStep[] = [
      ...parseChaos('add:node4@1s,remove:node2@2s', 3),
      { action: 'add', node: 'node4', atMs: 3000 },
      ...parseChaos('add:node4@3500ms,remove:node4@4s,remove:node1@5s,remove:node3@6s', 3).slice(1),
    ];
    const r = run(steps, c, { log: (l) => lines.push(l) });
    await vi.advanceTimersByTimeAsync(7000);
    await r.stop();
    expect(c.calls).toEqual(['addNode node4', 'removeNode node2', 'removeNode node4', 'removeNode node1']);
    const [add, remove, again, ...rest] = r.events;
    expect(add).toEqual({
      at: 1000,
      action: 'add',
      node: 'node4',
      detail: '15 agents moved to it; agents per node before: node1 20 · node2 20 · node3 20; after (300 ms): node1 15 · node2 15 · node3 15 · node4 15',
      balance: { before: { node1: 20, node2: 20, node3: 20 }, after: { node1: 15, node2: 15, node3: 15, node4: 15 }, settledMs: 300 },
    });
    expect(remove?.balance).toEqual({ before: { node1: 15, node2: 15, node3: 15, node4: 15 }, after: { node1: 20, node3: 20, node4: 20 }, settledMs: 300 });
    expect(remove?.detail).toMatch(/^15 agents moved off, 0 left behind; /);
    expect(again).toMatchObject({ action: 'add', node: 'node4', skipped: 'already in the cluster' });
    expect(rest.map((e) => `${e.action} ${e.node} ${e.skipped ?? ''}`.trim())).toEqual(['remove node4', 'remove node1', 'remove node3 the last node']);
    expect(lines[0]).toBe(`chaos at 1.0s: add node4 (${add!.detail})`);
  });

  test('the balance after a membership step is read at settleTimeoutMs when agents stay away, and at once when the chaos stops', async () => {
    const c = balancedCluster();
    c.addNode = async () => ({ address: '127.0.0.1', port: 1600, moved: 0 });
    c.removeNode = async (n) => {
      delete c.dist[n];
      return { moved: 20, leftBehind: 3 };
    };
    const r = run(parseChaos('remove:node1@1s', 3), c, { settleTimeoutMs: 2000 });
    await vi.advanceTimersByTimeAsync(3500);
    expect(r.events[0]).toMatchObject({ detail: expect.stringMatching(/^20 agents moved off, 3 left behind; .* after \(2000 ms\): node2 20 · node3 20$/) });
    const r2 = run(parseChaos('remove:node2@1s', 3), c, { settleTimeoutMs: 60_000 });
    await vi.advanceTimersByTimeAsync(1500);
    await r2.stop();
    expect(r2.events[0]?.balance?.settledMs).toBeLessThan(1000);
    await r.stop();
  });

  test('runs each step at its time and ends a timed fault after its duration', async () => {
    const c = fakeCluster();
    const r = run(parseChaos('kill:node1@1s+2s,blackhole:node2@1500ms+1s', 3), c);
    await vi.advanceTimersByTimeAsync(999);
    expect(c.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(c.calls).toEqual(['kill node1']);
    await vi.advanceTimersByTimeAsync(500);
    expect(c.calls.at(-1)).toBe('path node2 {"kind":"blackhole","on":true}');
    await vi.advanceTimersByTimeAsync(1000);
    // the blackhole ends with a reset of the connections that lived through it
    expect(c.calls.slice(-2)).toEqual(['path node2 {"kind":"blackhole","on":false}', 'path node2 {"kind":"reset"}']);
    await vi.advanceTimersByTimeAsync(500);
    expect(c.calls.at(-1)).toBe('restart node1');
    await r.stop();
    expect(r.events).toEqual([
      // the kill records how many agents node1 had: those that must fail over
      { at: 1000, action: 'kill', node: 'node1', detail: 'down 2000 ms', connected: 10 },
      { at: 1500, action: 'blackhole', node: 'node2', detail: '1000 ms' },
    ]);
    expect(r.fired).toBe(2);
  });

  test('skips a kill of a node that is down, and with keepOneNodeUp one that would leave no node up', async () => {
    const c = fakeCluster();
    const r = run(parseChaos('kill:node1@1s+10s,kill:node1@2s,kill:node2@3s,kill:node3@4s', 3), c, { keepOneNodeUp: true });
    await vi.advanceTimersByTimeAsync(4000);
    expect(r.events.map((e) => [e.node, e.skipped])).toEqual([
      ['node1', undefined],
      ['node1', 'already down'],
      ['node2', undefined],
      ['node3', 'the last node up'],
    ]);
    expect(c.calls).toEqual(['kill node1', 'kill node2']);
    await r.stop();
  });

  test('resolves busiest and last-killed when the step runs, as the demo uses them', async () => {
    const c = fakeCluster({ distribution: { node1: 10, node2: 30, node3: 20 } });
    const r = run(parseChaos('kill:busiest@1s,restart:last-killed@2s,rebalance@3s', 3), c, { rebalance: { chunkDelay: 0 } });
    await vi.advanceTimersByTimeAsync(3000);
    await r.stop();
    expect(c.calls).toEqual(['kill node2', 'restart node2']);
    expect(r.events.map((e) => `${e.action} ${e.node ?? ''} ${e.detail ?? ''}`.trim())).toEqual(['kill node2', 'restart node2', 'rebalance  12 agents told to reconnect']);
  });

  test('stop() ends every fault in force now: timed kills restart, hangs answer again and reset, latency goes; untimed kills stay', async () => {
    const c = fakeCluster();
    const r = run(parseChaos('kill:node1@1s+1m,hang:node2@1s,latency:node3=200ms@1s+1m,kill:node3@2s', 3), c);
    await vi.advanceTimersByTimeAsync(2000);
    c.calls.length = 0;
    await r.stop();
    expect(c.calls.sort()).toEqual(['hang node2 false', 'path node3 {"kind":"latency","ms":0}', 'resetConnections node2', 'restart node1'].sort());
    await vi.advanceTimersByTimeAsync(120_000);
    expect(c.calls).toHaveLength(4);
  });

  test('resetAfterBlackhole: false keeps the connections that lived through a blackhole or hang', async () => {
    const c = fakeCluster();
    const r = run(parseChaos('blackhole:node1@1s+1s,hang:node2@1s+1s', 3), c, { resetAfterBlackhole: false });
    await vi.advanceTimersByTimeAsync(3000);
    await r.stop();
    expect(c.calls.filter((x) => x.includes('reset'))).toEqual([]);
  });

  test('a restart step cancels the pending end of a timed kill, and a kill ends a hang on that node', async () => {
    const c = fakeCluster();
    const r = run(parseChaos('kill:node1@1s+10s,restart:node1@2s,hang:node2@1s+10s,kill:node2@3s', 3), c);
    await vi.advanceTimersByTimeAsync(20_000);
    await r.stop();
    expect(c.calls).toEqual(['kill node1', 'hang node2 true', 'restart node1', 'kill node2']);
  });

  test('force-reconnect picks distinct agents from the seed, by count or share', async () => {
    const c = fakeCluster();
    const r = run(parseChaos('force-reconnect:25@1s,force-reconnect:5%@2s', 3), c);
    await vi.advanceTimersByTimeAsync(2000);
    await r.stop();
    expect(c.calls).toEqual(['forceReconnect 25 25', 'forceReconnect 5 5']);
    expect(r.events.map((e) => e.detail)).toEqual(['25 agents picked, 25 told', '5 agents picked, 5 told']);
  });

  test('the agents a force-reconnect picks repeat with the seed and change with it', async () => {
    const picks = async (seed: string): Promise<number[]> => {
      let got: number[] = [];
      const c = fakeCluster();
      c.forceReconnect = async (agents) => {
        got = [...agents];
        return agents.length;
      };
      const r = run(parseChaos('force-reconnect:10@1s', 3), c, { seed });
      await vi.advanceTimersByTimeAsync(1000);
      await r.stop();
      return got;
    };
    const a = await picks('one');
    expect(a).toHaveLength(10);
    expect(await picks('one')).toEqual(a);
    expect(await picks('two')).not.toEqual(a);
  });

  test('a step that fails is recorded with its error and the schedule goes on', async () => {
    const c = fakeCluster();
    c.kill = async () => {
      throw new Error('node is gone');
    };
    const lines: string[] = [];
    const r = run(parseChaos('kill:node1@1s,reset:node2@2s', 3), c, { log: (l) => lines.push(l) });
    await vi.advanceTimersByTimeAsync(2000);
    await r.stop();
    expect(r.events).toEqual([
      { at: 1000, action: 'kill', error: 'node is gone' },
      { at: 2000, action: 'reset', node: 'node2', detail: '7 connections' },
    ]);
    expect(lines).toEqual(['chaos at 1.0s: kill failed: node is gone', 'chaos at 2.0s: reset node2 (7 connections)']);
  });

  test('steps not yet due never run after stop()', async () => {
    const c = fakeCluster();
    const r = run(parseChaos('kill:node1@1s,kill:node2@10s', 3), c);
    await vi.advanceTimersByTimeAsync(1000);
    await r.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(c.calls).toEqual(['kill node1']);
    expect(r.fired).toBe(1);
    expect(r.planned).toBe(2);
  });

  test('a path step against a cluster without fault proxies is refused before anything runs', () => {
    expect(() => new ChaosRunner({ target: fakeCluster({ faultPaths: false }), steps: parseChaos('latency:node1=1s@1s', 3) })).toThrow(/faultPaths/);
  });
});
