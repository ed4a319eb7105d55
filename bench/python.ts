/**
 * The Python floor of the e2e bench: bench/python-floor.py, a loop doing per event what a Python agent
 * simulator does at the least (MD5, `zlib.compress`, a new pycryptodome AES cipher, one
 * `socket.send`), run in the same bench as agentlink, so issue 12's "against the Python simulator"
 * is a ratio measured on the machine of the run instead of a number from another day.
 *
 * The interpreter is `AGENTLINK_BENCH_PYTHON` (default `python3`; `none` skips). It needs
 * pycryptodome (`pip install pycryptodome`, or Debian's `python3-pycryptodome` on Debian's
 * python3). Without it the floor is skipped with the reason printed. Before measuring, one frame
 * of the script is decoded with agentlink's codec: a floor that does not build valid frames would
 * not be doing the work it is compared on.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeSecureMessage } from '../src/protocol/secure.js';
import { deriveEncryptionKey } from '../src/protocol/keys.js';
import type { AgentKey } from '../src/protocol/index.js';

const run = promisify(execFile);

/** The script, next to this file's source (the bench runs from dist/bench). */
const SCRIPT = fileURLToPath(new URL('../../bench/python-floor.py', import.meta.url));

/** What {@link pythonFloor} measured, or why it did not run. */
export type PythonFloorResult =
  | { ok: true; interpreter: string; events: number; cpuSeconds: number; eventsPerCpuSec: number }
  | { ok: false; reason: string };

/** Options of {@link pythonFloor}. */
export interface PythonFloorOptions {
  /** The agent whose key and id the frames carry. */
  key: AgentKey;
  /** The plaintext of every event (queue, location and message). */
  plaintext: string;
  /** Connections written round-robin (the agents of the agentlink side). */
  sockets: number;
  /** Seconds of sending. */
  seconds: number;
}

/**
 * Runs the Python floor against a sink in this process that reads and drops what it gets.
 *
 * @param options - key, plaintext, sockets and seconds.
 * @returns the floor's events per CPU second of its own process, or why it was skipped.
 * @throws Error when the script's frame does not decode with agentlink's codec.
 */
export async function pythonFloor(options: PythonFloorOptions): Promise<PythonFloorResult> {
  const interpreter = process.env.AGENTLINK_BENCH_PYTHON ?? 'python3';
  if (interpreter === 'none') return { ok: false, reason: 'AGENTLINK_BENCH_PYTHON=none' };
  try {
    await run(interpreter, [SCRIPT, 'check'], { timeout: 10_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? `${interpreter} not found` : (e.stderr?.trim() || e.message);
    return { ok: false, reason: `${why} (set AGENTLINK_BENCH_PYTHON to a python3 with pycryptodome)` };
  }
  const aesKey = deriveEncryptionKey(options.key).aes.toString('latin1');
  const args = [aesKey, options.key.id, options.plaintext];

  const { stdout: hex } = await run(interpreter, [SCRIPT, 'frame', ...args], { timeout: 10_000 });
  const frame = Buffer.from(hex.trim(), 'hex');
  const decoded = decodeSecureMessage(frame.subarray(4), { keys: [options.key] });
  if (frame.readUInt32LE(0) !== frame.length - 4 || decoded.message.toString('utf8') !== options.plaintext) {
    throw new Error('bench/python-floor.py built a frame that does not carry the plaintext it was given');
  }

  const sink = net.createServer((s) => {
    s.on('data', () => {});
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  try {
    const port = (sink.address() as net.AddressInfo).port;
    const { stdout } = await run(interpreter, [SCRIPT, 'run', ...args, String(port), String(options.sockets), String(options.seconds)], {
      timeout: (options.seconds + 30) * 1000,
    });
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { events: number; cpu: number };
    return { ok: true, interpreter, events: r.events, cpuSeconds: r.cpu, eventsPerCpuSec: r.events / r.cpu };
  } finally {
    // the script closed its sockets before it printed, or died: either way none stays open
    await new Promise<void>((resolve) => sink.close(() => resolve()));
  }
}
