/**
 * `agentlink simulate`. PLACEHOLDER written by the CLI dispatcher's author: it parses and checks
 * the flags (so usage errors are already real) but runs nothing. The real command replaces this
 * file.
 *
 * @module
 */
import { parseSimulateArgs } from '../simulator/index.js';
import type { CliIo } from './io.js';

/**
 * Runs `agentlink simulate` (not implemented yet: checks the flags, prints so and returns 2).
 *
 * @param argv - the arguments after `simulate`.
 * @param io - streams and signal.
 * @returns the exit code.
 * @throws ToolError `ERR_USAGE` for bad flags.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  parseSimulateArgs(argv);
  io.stderr.write('agentlink simulate: not implemented yet\n');
  return 2;
}
