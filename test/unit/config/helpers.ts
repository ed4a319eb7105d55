import { expect } from 'vitest';
import { ConfigError } from '../../../src/index.js';

/**
 * Runs `fn`, expects a ConfigError, and checks its code, element and (when given) value.
 * Returns the error for further checks.
 */
export function expectConfigError(
  fn: () => unknown,
  element: string | RegExp,
  expected: { value?: unknown; code?: string; message?: RegExp } = {},
): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a ConfigError').toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.code).toBe(expected.code ?? 'ERR_CONFIG');
  if (typeof element === 'string') expect(err.element).toBe(element);
  else expect(err.element).toMatch(element);
  if ('value' in expected) expect(err.value).toEqual(expected.value);
  if (expected.message) expect(err.message).toMatch(expected.message);
  return err;
}
