/**
 * What a CLI command reads and writes: output streams, an abort signal and the environment, so
 * commands run the same from the `agentlink` binary and from tests.
 *
 * @module
 */
import { AbortError } from '../errors.js';

/** A writable text stream; `isTTY` and `columns` when it is a terminal. */
export interface CliOutput {
  /** Writes text. */
  write(chunk: string): unknown;
  /** Whether the stream is a terminal. */
  isTTY?: boolean | undefined;
  /** Terminal width in characters. */
  columns?: number | undefined;
}

/** The streams, signal and environment of one CLI invocation. */
export interface CliIo {
  /** Results (reports, keys) go here. */
  stdout: CliOutput & NodeJS.WritableStream;
  /** Progress, warnings and errors go here. */
  stderr: CliOutput & NodeJS.WritableStream;
  /** Aborted on SIGINT/SIGTERM: commands stop cleanly and return. */
  signal?: AbortSignal;
  /**
   * Environment variables (`AGENTLINK_DEBUG=1` prints stack traces).
   * @default process.env
   */
  env?: Record<string, string | undefined>;
  /**
   * Directory that relative paths are resolved against.
   * @default process.cwd()
   */
  cwd?: string;
}

/** A {@link CliIo} bound to the real process, and how to release its signal handlers. */
export interface ProcessIo {
  /** The I/O for the command. */
  io: CliIo;
  /** Removes the SIGINT/SIGTERM handlers. */
  dispose(): void;
}

/** Exit code after an interrupt (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Exit code when a `--threshold` failed (or `--abort-on-fail` ended the run), as k6's; `simulate` and `report merge`. */
export const EXIT_THRESHOLDS_FAILED = 99;

/**
 * Binds a {@link CliIo} to `process`: stdout, stderr, the environment, and an AbortSignal that the
 * first SIGINT or SIGTERM aborts. A second SIGINT exits at once with code 130.
 *
 * @returns the I/O and a `dispose()` that removes the signal handlers.
 */
export function createProcessIo(): ProcessIo {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      if (signal === 'SIGINT') {
        process.stderr.write('agentlink: interrupted again, exiting now\n');
        process.exit(EXIT_INTERRUPTED);
      }
      return;
    }
    process.stderr.write(`agentlink: ${signal} received, stopping (press Ctrl-C again to exit at once)\n`);
    controller.abort(new AbortError(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    io: { stdout: process.stdout, stderr: process.stderr, signal: controller.signal, env: process.env, cwd: process.cwd() },
    dispose(): void {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
