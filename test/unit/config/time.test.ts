import { describe, expect, it } from 'vitest';
import { parseDuration, parseWazuhTime } from '../../../src/index.js';
import { expectConfigError } from './helpers.js';

describe('parseWazuhTime', () => {
  it.each([
    ['0', 0],
    ['90', 90_000],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    [' 10m ', 600_000],
    ['010', 10_000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseWazuhTime(text, 'client/force_reconnect_interval')).toBe(ms);
  });

  it.each(['', ' ', 'abc', '-5', '5x', '1.5h', '5 m', '5ms', 'm', '1e3', '99999999999999999999w'])('rejects %j naming the element', (text) => {
    const err = expectConfigError(() => parseWazuhTime(text, 'client/force_reconnect_interval'), 'client/force_reconnect_interval', {
      value: text,
    });
    expect(err.message).toContain('client/force_reconnect_interval');
  });
});

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['500ms', 500],
    ['60s', 60_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1m 30s', 90_000],
    ['.5s', 500],
    [' 10s ', 10_000],
    ['0.0004s', 0],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '60', 'abc', '-1s', '10 seconds', '5x', '1m30', 's', '1..5s', 'NaN', '1e3s'])('rejects %j', (text) => {
    expectConfigError(() => parseDuration(text, '--duration'), '--duration', { value: text });
  });

  it('names "duration" when no element is given', () => {
    expectConfigError(() => parseDuration('soon'), 'duration');
  });
});
