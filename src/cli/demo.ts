/**
 * `agentlink demo`. PLACEHOLDER written by the CLI dispatcher's author so the dispatcher can load
 * it; the real command replaces this file.
 *
 * @module
 */
import type { CliIo } from './io.js';

/**
 * Runs `agentlink demo` (not implemented yet: prints so and returns 2).
 *
 * @param _argv - the arguments after `demo`.
 * @param io - streams and signal.
 * @returns the exit code.
 */
export async function run(_argv: string[], io: CliIo): Promise<number> {
  io.stderr.write('agentlink demo: not implemented yet\n');
  return 2;
}
