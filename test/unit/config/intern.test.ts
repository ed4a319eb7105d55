import { describe, expect, it } from 'vitest';
import { resolveOptions, type AgentClientOptions } from '../../../src/index.js';
import { PartInterner } from '../../../src/config/intern.js';

const agent = { id: '001', name: 'agent1', key: 'a'.repeat(64) };
const opts = (extra: Partial<AgentClientOptions> = {}): AgentClientOptions => ({ servers: [{ address: 'manager.example' }], agent, ...extra });

describe('resolveOptions shares equal parts between clients', () => {
  it('hands out one frozen object for equal parts, built from different option objects', () => {
    const a = resolveOptions(opts({ buffer: { eventsPerSecond: 1000 }, labels: [{ key: 'k', value: 'v' }] }));
    const b = resolveOptions(opts({ buffer: { eventsPerSecond: 1000 }, labels: [{ key: 'k', value: 'v' }] }));
    for (const part of ['servers', 'reconnect', 'buffer', 'enrollment', 'labels', 'retransmit'] as const) {
      expect(b[part], part).toBe(a[part]);
      expect(Object.isFrozen(a[part]), part).toBe(true);
    }
    expect(Object.isFrozen(a.servers[0])).toBe(true);
    expect(Object.isFrozen(a.labels[0])).toBe(true);
  });

  it('never gives a client a part resolved from different options, in any order', () => {
    const ask = [500, 800, 500, 500, 800, 800, 500];
    const got = ask.map((eps) => resolveOptions(opts({ buffer: { eventsPerSecond: eps }, servers: [{ address: 'm', port: eps }] })));
    got.forEach((r, i) => {
      expect(r.buffer.eventsPerSecond).toBe(ask[i]);
      expect(r.servers).toEqual([expect.objectContaining({ address: 'm', port: ask[i] })]);
    });
    expect(got[0]!.buffer).toBe(got[2]!.buffer);
    expect(got[1]!.buffer).toBe(got[4]!.buffer);
    expect(got[0]!.buffer).not.toBe(got[1]!.buffer);
  });

  it('keeps parts that differ deep inside apart (a label value, a server of two, a group)', () => {
    const a = resolveOptions(opts({ labels: [{ key: 'k', value: 'v1' }], servers: [{ address: 'm1' }, { address: 'm2' }] }));
    const b = resolveOptions(opts({ labels: [{ key: 'k', value: 'v2' }], servers: [{ address: 'm1' }, { address: 'm3' }] }));
    const c = resolveOptions(opts({ labels: [{ key: 'k', value: 'v2', hidden: true }], servers: [{ address: 'm1' }] }));
    expect(a.labels[0]!.value).toBe('v1');
    expect(b.labels[0]!.value).toBe('v2');
    expect(c.labels[0]).toEqual({ key: 'k', value: 'v2', hidden: true });
    expect(b.servers.map((s) => s.address)).toEqual(['m1', 'm3']);
    expect(c.servers).toHaveLength(1);
    const g1 = resolveOptions({ servers: [{ address: 'm' }], enrollment: { agentName: 'web01', groups: ['a'] } });
    const g2 = resolveOptions({ servers: [{ address: 'm' }], enrollment: { agentName: 'web01', groups: ['a', 'b'] } });
    expect(g1.enrollment.groups).toEqual(['a']);
    expect(g2.enrollment.groups).toEqual(['a', 'b']);
  });

  it('does not share or freeze a part holding a Buffer or a function', () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----');
    const e1 = resolveOptions({ servers: [{ address: 'm' }], enrollment: { agentName: 'web01', ca } });
    const e2 = resolveOptions({ servers: [{ address: 'm' }], enrollment: { agentName: 'web01', ca } });
    expect(e1.enrollment).not.toBe(e2.enrollment);
    expect(Object.isFrozen(e1.enrollment)).toBe(false);
    expect(e1.enrollment.ca).toBe(ca);
    const e3 = resolveOptions({ servers: [{ address: 'm' }], enrollment: { agentName: 'web01', ca: 'PEM text' } });
    expect(e3.enrollment.ca).toBe('PEM text');
    const p1 = () => ({ delay: 1 });
    const p2 = () => ({ delay: 2 });
    const r1 = resolveOptions(opts({ reconnect: p1 }));
    const r2 = resolveOptions(opts({ reconnect: p2 }));
    expect(r1.reconnect).toEqual({ strategy: 'custom', policy: p1 });
    expect(r2.reconnect).toEqual({ strategy: 'custom', policy: p2 });
    expect(Object.isFrozen(r1.reconnect)).toBe(false);
  });
});

describe('resolveOptions: the parts of options left out', () => {
  it('follow what they depend on: enrollment on whether an identity is given, retransmit on notifyTime', () => {
    const runs = [
      { withAgent: true, notifyTime: 10_000 },
      { withAgent: false, notifyTime: 10_000 },
      { withAgent: true, notifyTime: 20_000 },
      { withAgent: true, notifyTime: 20_000 },
      { withAgent: false, notifyTime: 10_000 },
    ];
    const got = runs.map(({ withAgent, notifyTime }) =>
      resolveOptions({ servers: [{ address: 'm' }], notifyTime, ...(withAgent ? { agent } : {}) }),
    );
    got.forEach((r, i) => {
      expect(r.enrollment.enabled).toBe(!runs[i]!.withAgent);
      expect(r.retransmit.barrierInterval).toBe(runs[i]!.notifyTime);
    });
    expect(got[2]!.retransmit).toBe(got[3]!.retransmit);
    expect(got[2]!.enrollment).toBe(got[3]!.enrollment);
    expect(Object.isFrozen(got[1]!.enrollment)).toBe(true);
    // a part left out equals the part of the same option given explicitly with its defaults
    expect(resolveOptions(opts({ reconnect: { strategy: 'wazuh' }, labels: [], buffer: {} }))).toMatchObject({
      reconnect: got[0]!.reconnect,
      labels: got[0]!.labels,
      buffer: got[0]!.buffer,
    });
  });
});

describe('PartInterner', () => {
  it('tells apart what its key tells apart: undefined from absent, 1 from "1", null from undefined, arrays from objects', () => {
    const pairs: Array<[unknown, unknown]> = [
      [{ a: undefined }, {}],
      [{}, { a: undefined }],
      [{ a: 1 }, { a: '1' }],
      [{ a: null }, { a: undefined }],
      [{ a: [1] }, { a: { 0: 1 } }],
      [{ a: { 0: 1 } }, { a: [1] }],
      [[1, 2], [1, 2, 3]],
      [[1, 2, 3], [1, 2]],
      [{ a: 1 }, { a: 1, b: 2 }],
      [{ a: 1, b: 2 }, { a: 1 }],
      [{ a: { b: { c: 'x' } } }, { a: { b: { c: 'y' } } }],
      [{ a: true }, { a: 1 }],
    ];
    for (const [x, y] of pairs) {
      const interner = new PartInterner();
      const first = interner.intern(structuredClone(x));
      const second = interner.intern(structuredClone(y));
      expect(second, JSON.stringify([x, y])).not.toBe(first);
      expect(second).toStrictEqual(y);
    }
  });

  it('shares equal values between interners and after its table starts over', () => {
    const a = new PartInterner();
    const b = new PartInterner();
    const v = a.intern({ n: 1, list: ['x'] });
    expect(b.intern({ n: 1, list: ['x'] })).toBe(v);
    // fill the table past its limit: the last part handed out is still the one compared first
    for (let i = 0; i < 300; i++) b.intern({ n: i + 2, list: ['x'] });
    expect(a.intern({ n: 1, list: ['x'] })).toBe(v);
    const w = b.intern({ n: 1, list: ['x'] });
    expect(w).toStrictEqual({ n: 1, list: ['x'] });
    expect(Object.isFrozen(w)).toBe(true);
  });

  it('leaves a class instance, a Buffer or a function in place and unfrozen', () => {
    const interner = new PartInterner();
    class Box {
      n = 1;
    }
    for (const v of [new Box(), { b: Buffer.from('x') }, { f: () => 1 }, [new Map()]]) {
      expect(interner.intern(v)).toBe(v);
      expect(Object.isFrozen(v)).toBe(false);
    }
  });

  it('resolves a left-out part again when a context value changes, and keeps nothing when the resolver throws', () => {
    const interner = new PartInterner();
    const calls: number[] = [];
    const resolve = (a: number, b: string) => {
      calls.push(a);
      if (a < 0) throw new Error('bad');
      return { a, b };
    };
    const one = interner.absent(1, 'x', resolve);
    expect(interner.absent(1, 'x', resolve)).toBe(one);
    expect(interner.absent(2, 'x', resolve)).toEqual({ a: 2, b: 'x' });
    expect(interner.absent(2, 'y', resolve)).toEqual({ a: 2, b: 'y' });
    expect(() => interner.absent(-1, 'y', resolve)).toThrow('bad');
    expect(() => interner.absent(-1, 'y', resolve)).toThrow('bad');
    expect(interner.absent(1, 'x', resolve)).toBe(one);
    expect(calls).toEqual([1, 2, 2, -1, -1, 1]);
  });
});
