/**
 * Runs the built `agentlink` binary (bin/agentlink.js, compiled by the vitest global setup) as a
 * user would: a child process with its own working directory and environment.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'vitest';

/** bin/agentlink.js. */
export const AGENTLINK_BIN = new URL('../../bin/agentlink.js', import.meta.url).pathname;

/** How a run ended. */
export interface CliRun {
  /** Exit code (-1 when a signal ended it). */
  code: number;
  /** Everything written to standard output. */
  stdout: string;
  /** Everything written to standard error. */
  stderr: string;
}

/** Options of {@link runCli} and {@link startCli}. */
export interface CliOptions {
  /** Working directory. */
  cwd: string;
  /** Extra environment variables (on top of the test's, with AGENTLINK_DEBUG cleared). */
  env?: Record<string, string>;
  /** Kill after this many milliseconds. @default 60000 */
  timeout?: number;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, AGENTLINK_DEBUG: '', ...extra };
}

/**
 * Runs `agentlink ARGS` to the end.
 *
 * @param args - the arguments after `agentlink`.
 * @param options - working directory, environment, deadline.
 * @returns the exit code and the output.
 */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [AGENTLINK_BIN, ...args], { cwd: options.cwd, timeout: options.timeout ?? 60_000, env: env(options.env) }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts `agentlink ARGS` and returns the child (output piped), for tests that signal it.
 *
 * @param args - the arguments after `agentlink`.
 * @param options - working directory and environment.
 * @returns the running child.
 */
export function startCli(args: readonly string[], options: CliOptions): ChildProcess {
  return spawn(process.execPath, [AGENTLINK_BIN, ...args], { cwd: options.cwd, env: env(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Asserts a usage error as users see it: exit code 2, exactly one line on stderr, no stack trace.
 *
 * @param run - the run.
 * @param pattern - what the line must say.
 */
export function expectUsageError(run: CliRun, pattern: RegExp): void {
  expect(run.code).toBe(2);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}
