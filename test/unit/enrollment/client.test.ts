import { describe, expect, it } from 'vitest';
import { AbortError, ConfigError, enroll, enrollWithFallback, enrollmentBackoffDelay } from '../../../src/index.js';

// Port 9 (discard) on loopback: never contacted, because every case here fails before connecting.
const base = { host: '127.0.0.1', port: 9, name: 'agent1' };

describe('enrollmentBackoffDelay', () => {
  it('grows by 5 s per failed round: 5, 10, ... 60 s', () => {
    expect(Array.from({ length: 12 }, (_, i) => enrollmentBackoffDelay(i + 1))).toEqual([
      5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 45_000, 50_000, 55_000, 60_000,
    ]);
  });

  it('stays at 60 s after the 12th round', () => {
    expect(enrollmentBackoffDelay(13)).toBe(60_000);
    expect(enrollmentBackoffDelay(1_000_000)).toBe(60_000);
    expect(enrollmentBackoffDelay(Infinity)).toBe(60_000);
  });

  it('treats a round below 1 or NaN as the first round', () => {
    expect(enrollmentBackoffDelay(0)).toBe(5_000);
    expect(enrollmentBackoffDelay(-3)).toBe(5_000);
    expect(enrollmentBackoffDelay(Number.NaN)).toBe(5_000);
  });
});

describe('enroll option checks', () => {
  it.each([
    [{ name: "agent1' G:'admin" }, 'enrollment.agentName'],
    [{ name: 'agent1', groups: ['linux\n'] }, 'enrollment.groups'],
    [{ name: 'agent1', agentAddress: 'somewhere' }, 'enrollment.agentAddress'],
    [{ name: 'agent1', password: 'pw\nOSSEC' }, 'enrollment.password'],
    [{ name: 'agent1', port: 70_000 }, 'enrollment.port'],
    [{ name: 'agent1', port: 0 }, 'enrollment.port'],
    [{ name: 'agent1', timeout: -1 }, 'enrollment.timeout'],
    [{ name: 'agent1', retries: 1.5 }, 'enrollment.retries'],
    [{ name: 'agent1', cert: 'PEM' }, 'enrollment.key'],
    [{ name: 'agent1', host: 'bad host' }, 'enrollment.managerAddress'],
  ])('rejects %j with a ConfigError naming %s, before connecting', async (override, element) => {
    const err = await enroll({ ...base, ...override }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).element).toBe(element);
  });

  it('rejects with AbortError when the signal is already aborted', async () => {
    const err = await enroll({ ...base, signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).code).toBe('ERR_ABORTED');
  });

  it('enrollWithFallback refuses an empty host list and a bad maxRounds', async () => {
    await expect(enrollWithFallback({ hosts: [], name: 'agent1' })).rejects.toBeInstanceOf(ConfigError);
    await expect(enrollWithFallback({ hosts: ['127.0.0.1'], port: 9, name: 'agent1', maxRounds: 0 })).rejects.toBeInstanceOf(ConfigError);
  });

  it('enrollWithFallback validates every option before the first attempt', async () => {
    const err = await enrollWithFallback({ hosts: ['127.0.0.1', 'bad host'], port: 9, name: 'agent1' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
  });
});
