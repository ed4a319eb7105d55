import { describe, expect, it } from 'vitest';
import type { ReconnectContext, ResolvedReconnect, ResolvedServer } from '../../../src/index.js';
import { ConfigError, StateError } from '../../../src/index.js';
import { ReconnectPlanner, applyJitter } from '../../../src/agent/reconnect.js';
import type { PlannedAttempt } from '../../../src/agent/reconnect.js';
import { mulberry32 } from '../../helpers/prng.js';

const server = (address: string, maxRetries = 5, retryInterval = 10_000): ResolvedServer => ({
  address,
  port: 1514,
  protocol: 'tcp',
  maxRetries,
  retryInterval,
});
const three = [server('s0'), server('s1'), server('s2')];

const seeded = mulberry32;

/** Runs a cycle where every attempt fails; returns [time, server, plan] per attempt. */
function walk(planner: ReconnectPlanner, first: PlannedAttempt, attempts: number): Array<[number, number, PlannedAttempt]> {
  const out: Array<[number, number, PlannedAttempt]> = [];
  let t = first.delay;
  let plan: PlannedAttempt | false = first;
  while (plan && out.length < attempts) {
    out.push([t, plan.server, plan]);
    plan = planner.fail(new Error('refused'));
    if (plan) t += plan.delay;
  }
  return out;
}

const wazuh: ResolvedReconnect = { strategy: 'wazuh', jitter: 0 };

describe('applyJitter', () => {
  it('returns the base unchanged with jitter 0 and stays inside [base(1-j), base] otherwise', () => {
    expect(applyJitter(1000, 0, () => 0.5)).toBe(1000);
    expect(applyJitter(1000, 0.25, () => 0)).toBe(750);
    expect(applyJitter(1000, 0.25, () => 0.999999)).toBeCloseTo(1000, 2);
    expect(applyJitter(1000, 1, () => 0)).toBe(0);
    const rnd = seeded(7);
    for (let k = 0; k < 1000; k++) {
      const d = applyJitter(8000, 0.3, rnd);
      expect(d).toBeGreaterThanOrEqual(5600);
      expect(d).toBeLessThanOrEqual(8000);
    }
  });

  it('clamps jitter above 1 and a broken random source into range', () => {
    expect(applyJitter(1000, 5, () => 0)).toBe(0);
    expect(applyJitter(1000, 0.5, () => Number.NaN)).toBe(500);
    expect(applyJitter(1000, 0.5, () => 7)).toBe(1000);
    expect(applyJitter(1000, 0.5, () => -3)).toBe(500);
  });
});

describe('ReconnectPlanner, wazuh strategy (protocol.md 5.3)', () => {
  it('tries each of three servers 5 times 10 s apart, then the next, wrapping to the first', () => {
    const planner = new ReconnectPlanner(wazuh, three);
    const table = walk(planner, planner.start(0, 'initial'), 17).map(([t, s]) => [t / 1000, s]);
    expect(table).toEqual([
      [0, 0], [10, 0], [20, 0], [30, 0], [40, 0],
      [50, 1], [60, 1], [70, 1], [80, 1], [90, 1],
      [100, 2], [110, 2], [120, 2], [130, 2], [140, 2],
      [150, 0], [160, 0],
    ]);
  });

  it('marks the first attempt after a server used all its retries with serverExhausted and counts rounds', () => {
    const planner = new ReconnectPlanner(wazuh, three);
    const rows = walk(planner, planner.start(0, 'initial'), 21);
    const flagged = rows.filter(([, , p]) => p.serverExhausted !== undefined).map(([t, s, p]) => [t / 1000, s, p.serverExhausted, p.round]);
    expect(flagged).toEqual([
      [50, 1, 0, 0],
      [100, 2, 1, 0],
      [150, 0, 2, 1],
      [200, 1, 0, 1],
    ]);
    expect(rows.map(([, , p]) => p.attempt)).toEqual(Array.from({ length: 21 }, (_, k) => k + 1));
  });

  it('exposes the exhausted server after fail() and the attempts made on the current server', () => {
    const planner = new ReconnectPlanner(wazuh, [server('a', 2, 1000), server('b', 2, 1000)]);
    planner.start(0, 'initial');
    expect(planner.attemptsOnServer).toBe(1);
    planner.fail(undefined);
    expect(planner.attemptsOnServer).toBe(2);
    expect(planner.exhaustedServer).toBeUndefined();
    const moved = planner.fail(undefined);
    expect(moved).toMatchObject({ server: 1, serverExhausted: 0 });
    expect(planner.exhaustedServer).toBe(0);
    expect(planner.attemptsOnServer).toBe(1);
    planner.fail(undefined);
    expect(planner.exhaustedServer).toBeUndefined();
  });

  it('uses each server own maxRetries and retryInterval, and starts from the last connected server', () => {
    const servers = [server('a', 2, 1000), server('b', 3, 5000), server('c', 1, 2000)];
    const planner = new ReconnectPlanner(wazuh, servers);
    const table = walk(planner, planner.start(1, 'initial'), 9).map(([t, s]) => [t / 1000, s]);
    // b at 0, 5, 10; wait 5 -> c at 15; wait 2 -> a at 17, 18; wait 1 -> b at 19, 24, 29
    expect(table).toEqual([[0, 1], [5, 1], [10, 1], [15, 2], [17, 0], [18, 0], [19, 1], [24, 1], [29, 1]]);
  });

  it('retries a single server forever, maxRetries per round', () => {
    const planner = new ReconnectPlanner(wazuh, [server('only', 3, 1000)]);
    const rows = walk(planner, planner.start(0, 'initial'), 7);
    expect(rows.map(([t, s]) => [t, s])).toEqual([[0, 0], [1000, 0], [2000, 0], [3000, 0], [4000, 0], [5000, 0], [6000, 0]]);
    expect(rows.map(([, , p]) => p.serverExhausted)).toEqual([undefined, undefined, undefined, 0, undefined, undefined, 0]);
    expect(rows[6]![2].round).toBe(2);
  });

  it('starts a lost connection at once without jitter and within [0, j*retryInterval] with jitter', () => {
    expect(new ReconnectPlanner(wazuh, three).start(2, 'lost')).toEqual({ server: 2, delay: 0, attempt: 1, round: 0 });
    const rnd = seeded(1);
    const planner = new ReconnectPlanner({ strategy: 'wazuh', jitter: 0.5 }, three, rnd);
    for (let k = 0; k < 200; k++) {
      const first = planner.start(1, 'lost');
      expect(first.delay).toBeGreaterThanOrEqual(0);
      expect(first.delay).toBeLessThanOrEqual(5000);
    }
    expect(planner.start(1, 'initial').delay).toBe(0);
  });

  it('keeps every jittered wait inside [retryInterval(1-j), retryInterval] and the server order unchanged', () => {
    const planner = new ReconnectPlanner({ strategy: 'wazuh', jitter: 0.3 }, three, seeded(42));
    const rows = walk(planner, planner.start(0, 'initial'), 40);
    expect(rows.map(([, s]) => s)).toEqual(Array.from({ length: 40 }, (_, k) => Math.floor(k / 5) % 3));
    const delays = rows.slice(1).map(([, , p]) => p.delay);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(7000);
      expect(d).toBeLessThanOrEqual(10_000);
    }
    expect(new Set(delays).size).toBeGreaterThan(10);
  });

  it('resets every counter when a new cycle starts', () => {
    const planner = new ReconnectPlanner(wazuh, three);
    walk(planner, planner.start(0, 'initial'), 12);
    expect(planner.round).toBe(0);
    const first = planner.start(2, 'lost');
    expect(first).toEqual({ server: 2, delay: 0, attempt: 1, round: 0 });
    expect(planner.failures).toBe(0);
    expect(planner.attemptsOnServer).toBe(1);
  });

  it('refuses fail() before start() with ERR_INVALID_STATE and an empty list with ERR_CONFIG', () => {
    const planner = new ReconnectPlanner(wazuh, three);
    expect(() => planner.fail(undefined)).toThrow(StateError);
    expect(() => new ReconnectPlanner(wazuh, [])).toThrow(ConfigError);
  });
});

describe('ReconnectPlanner, backoff strategy', () => {
  const backoff = (over: Partial<Extract<ResolvedReconnect, { strategy: 'backoff' }>> = {}): ResolvedReconnect => ({
    strategy: 'backoff',
    initialDelay: 1000,
    maxDelay: 5000,
    factor: 2,
    jitter: 1,
    maxAttempts: 0,
    ...over,
  });

  it('moves to the next server after each failure with no wait inside a round, and grows the wait per round up to maxDelay', () => {
    const planner = new ReconnectPlanner(backoff({ jitter: 0 }), three);
    const rows = walk(planner, planner.start(1, 'initial'), 19);
    expect(rows.map(([, s]) => s)).toEqual(Array.from({ length: 19 }, (_, k) => (1 + k) % 3));
    const delays = rows.map(([, , p]) => p.delay);
    expect(delays).toEqual([0, 0, 0, 1000, 0, 0, 2000, 0, 0, 4000, 0, 0, 5000, 0, 0, 5000, 0, 0, 5000]);
    expect(rows.map(([, , p]) => p.round)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6]);
  });

  it('starts each cycle with no server failed in the round, also before the first failure of the planner', () => {
    const planner = new ReconnectPlanner(backoff({ jitter: 0 }), three);
    planner.start(0, 'initial');
    expect(planner.fail(undefined)).toMatchObject({ server: 1, delay: 0, round: 0 });
    expect(planner.fail(undefined)).toMatchObject({ server: 2, delay: 0, round: 0 });
    planner.start(2, 'lost');
    // s0 and s1 failed in the last cycle: a new cycle needs all three to fail again for a round
    expect(planner.fail(undefined)).toMatchObject({ server: 0, delay: 0, round: 0 });
    expect(planner.fail(undefined)).toMatchObject({ server: 1, delay: 0, round: 0 });
    expect(planner.fail(undefined)).toMatchObject({ server: 2, delay: 1000, round: 1 });
    expect(new ReconnectPlanner(backoff(), three).start(1, 'initial')).toEqual({ server: 1, delay: 0, attempt: 1, round: 0 });
  });

  it('keeps full-jitter waits inside [0, d] of their round', () => {
    const planner = new ReconnectPlanner(backoff({ jitter: 1 }), three, seeded(3));
    for (let trial = 0; trial < 20; trial++) {
      const rows = walk(planner, planner.start(0, 'initial'), 16);
      for (const [, , p] of rows.slice(1)) {
        const cap = p.attempt % 3 === 1 ? Math.min(5000, 1000 * 2 ** (p.round - 1)) : 0;
        expect(p.delay).toBeGreaterThanOrEqual(0);
        expect(p.delay).toBeLessThanOrEqual(cap);
      }
    }
  });

  it('keeps partial-jitter waits inside [d(1-j), d]', () => {
    const planner = new ReconnectPlanner(backoff({ jitter: 0.2, maxDelay: 60_000 }), [server('x')], seeded(9));
    const rows = walk(planner, planner.start(0, 'initial'), 8);
    rows.slice(1).forEach(([, , p], k) => {
      const d = Math.min(60_000, 1000 * 2 ** k);
      expect(p.delay).toBeGreaterThanOrEqual(0.8 * d);
      expect(p.delay).toBeLessThanOrEqual(d);
    });
  });

  it('gives up at maxAttempts failures and keeps answering false until restarted', () => {
    const planner = new ReconnectPlanner(backoff({ maxAttempts: 4 }), three, seeded(5));
    planner.start(0, 'initial');
    expect(planner.fail(undefined)).not.toBe(false);
    expect(planner.fail(undefined)).not.toBe(false);
    expect(planner.fail(undefined)).not.toBe(false);
    expect(planner.fail(undefined)).toBe(false);
    expect(planner.gaveUp).toBe(true);
    expect(planner.fail(undefined)).toBe(false);
    expect(planner.start(0, 'lost')).toMatchObject({ server: 0, attempt: 1 });
    expect(planner.gaveUp).toBe(false);
  });

  it('waits a uniform [0, jitter*initialDelay] before the first attempt after a lost connection', () => {
    const planner = new ReconnectPlanner(backoff({ jitter: 0.5 }), three, () => 0.999);
    expect(planner.start(0, 'lost').delay).toBeCloseTo(499.5, 5);
    expect(planner.start(0, 'initial').delay).toBe(0);
    expect(new ReconnectPlanner(backoff({ jitter: 0 }), three).start(0, 'lost').delay).toBe(0);
  });
});

describe('ReconnectPlanner, custom policy', () => {
  it('passes the context of each failure and follows the decision', () => {
    const seen: ReconnectContext[] = [];
    const err = new Error('boom');
    const planner = new ReconnectPlanner(
      {
        strategy: 'custom',
        policy: (ctx) => {
          seen.push({ ...ctx });
          return ctx.attempt < 3 ? { delay: 100 * ctx.attempt } : { server: ctx.serverIndex + 1, delay: 7 };
        },
      },
      three,
    );
    expect(planner.start(1, 'lost')).toEqual({ server: 1, delay: 0, attempt: 1, round: 0 });
    expect(planner.fail(err)).toEqual({ server: 1, delay: 100, attempt: 2, round: 0 });
    expect(planner.fail(err)).toEqual({ server: 1, delay: 200, attempt: 3, round: 0 });
    expect(planner.fail(err)).toEqual({ server: 2, delay: 7, attempt: 4, round: 0 });
    expect(seen.map((c) => [c.attempt, c.serverIndex, c.attemptsOnServer, c.round])).toEqual([
      [1, 1, 1, 0],
      [2, 1, 2, 0],
      [3, 1, 3, 0],
    ]);
    expect(seen[0]!.error).toBe(err);
    expect(seen[0]!.servers).toBe(three);
  });

  it('wraps the chosen server modulo the list size and treats a negative or non-finite delay as 0', () => {
    const decisions = [
      { server: 5, delay: -3 },
      { server: -1, delay: Number.NaN },
      { server: Number.POSITIVE_INFINITY, delay: Number.POSITIVE_INFINITY },
    ];
    const planner = new ReconnectPlanner({ strategy: 'custom', policy: () => decisions.shift() ?? false }, three);
    planner.start(0, 'initial');
    expect(planner.fail(undefined)).toMatchObject({ server: 2, delay: 0 });
    expect(planner.fail(undefined)).toMatchObject({ server: 2, delay: 0 });
    expect(planner.fail(undefined)).toMatchObject({ server: 2, delay: 0 });
    expect(planner.fail(undefined)).toBe(false);
    expect(planner.policyError).toBeUndefined();
  });

  it('counts a round once every server has failed since the last round', () => {
    const rounds: number[] = [];
    const planner = new ReconnectPlanner(
      { strategy: 'custom', policy: (ctx) => (rounds.push(ctx.round), { server: ctx.serverIndex + 1, delay: 0 }) },
      three,
    );
    walk(planner, planner.start(0, 'initial'), 7);
    expect(rounds).toEqual([0, 0, 1, 1, 1, 2, 2]);
  });

  it('gives up when the policy returns false, throws, or returns a non-object, keeping the reason', () => {
    const give = new ReconnectPlanner({ strategy: 'custom', policy: () => false }, three);
    give.start(0, 'initial');
    expect(give.fail(undefined)).toBe(false);
    expect(give.policyError).toBeUndefined();

    const thrower = new ReconnectPlanner(
      {
        strategy: 'custom',
        policy: () => {
          throw new TypeError('bug in policy');
        },
      },
      three,
    );
    thrower.start(0, 'initial');
    expect(thrower.fail(undefined)).toBe(false);
    expect(thrower.policyError).toBeInstanceOf(ConfigError);
    expect((thrower.policyError as ConfigError).cause).toBeInstanceOf(TypeError);

    const broken = new ReconnectPlanner({ strategy: 'custom', policy: (() => undefined) as never }, three);
    broken.start(0, 'initial');
    expect(broken.fail(undefined)).toBe(false);
    expect(broken.policyError?.message).toMatch(/returned undefined/);
  });
});
