import { describe, expect, it } from 'vitest';
import { checkBalance } from '../../../src/testing/lb/index.js';

describe('checkBalance (the Wazuh HAProxy helper rule)', () => {
  it('accepts an exactly even distribution', () => {
    expect(checkBalance({ a: 100, b: 100, c: 100 })).toEqual({ balanced: true, total: 300, mean: 100, excess: {} });
  });

  it('accepts every server within 10 % of the floored mean', () => {
    expect(checkBalance({ a: 110, b: 90, c: 100 }).balanced).toBe(true);
  });

  it('asks the servers above the mean to shed their excess when one is beyond the tolerance', () => {
    expect(checkBalance({ a: 111, b: 95, c: 94 })).toEqual({ balanced: false, total: 300, mean: 100, excess: { a: 11 } });
    expect(checkBalance({ a: 200, b: 100, c: 0 })).toEqual({ balanced: false, total: 300, mean: 100, excess: { a: 100 } });
  });

  it('flags a server below the tolerance even when none is far above', () => {
    const verdict = checkBalance({ a: 105, b: 106, c: 89 });
    expect(verdict.balanced).toBe(false);
    expect(verdict.excess).toEqual({ a: 5, b: 6 });
  });

  it('accepts an off-by-one spread when the total does not divide evenly (small fleets)', () => {
    // mean = floor(5 / 3) = 1; max 2 > 1.1 but max - min <= 1 and 5 % 3 != 0
    expect(checkBalance({ a: 2, b: 2, c: 1 }).balanced).toBe(true);
    // max - min <= 1 alone is not enough when the total divides evenly
    expect(checkBalance({ a: 2, b: 1, c: 0 }).balanced).toBe(false);
  });

  it('uses the given tolerance', () => {
    expect(checkBalance({ a: 120, b: 80 }, 0.25).balanced).toBe(true);
    expect(checkBalance({ a: 120, b: 80 }, 0.1)).toMatchObject({ balanced: false, excess: { a: 20 } });
  });

  it('treats no servers and no sessions as balanced', () => {
    expect(checkBalance({}).balanced).toBe(true);
    expect(checkBalance({ a: 0, b: 0 }).balanced).toBe(true);
  });
});
