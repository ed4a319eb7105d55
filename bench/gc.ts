/**
 * `gc()` for the benchmarks that measure memory (the fleet budget, the soak's memory trend):
 * the global one when node runs with `--expose-gc`, else exposed at run time through a V8 flag.
 * Benchmark code only: the library never touches V8 flags.
 *
 * @module
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection, when one can be had.
 *
 * @returns `gc`, or undefined when V8 refuses the flag.
 */
export function exposedGc(): (() => void) | undefined {
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return g;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  }
}
