/**
 * `agentlink manager`: runs a mock Wazuh manager (remoted, and optionally authd) until interrupted,
 * printing every received event as a JSON line and every agent status change on stderr.
 *
 * @module
 */
import { createWriteStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readPasswordFile } from '../config/files.js';
import { ToolError } from '../errors.js';
import { translateParseArgsError } from '../simulator/index.js';
import { KeyStore, MockManager } from '../testing/index.js';
import type { ManagerProtocol, MockManagerOptions } from '../testing/index.js';

/** Help text of `agentlink manager`. */
export const MANAGER_USAGE = `Usage: agentlink manager [--port 1514] [--host 127.0.0.1] [--keys client.keys] [--udp]
                         [--authd-port 1515 [--password-file FILE]] [--events-json FILE|-] [--name node01]

Run a mock Wazuh manager: remoted on TCP (and UDP with --udp, same port), and authd (TLS, test
certificate) with --authd-port. Agents in --keys are accepted; agents enrolled through authd are
accepted at once and appended to the --keys file. Runs until interrupted (Ctrl-C).

Output: "listening tcp|udp|authd HOST:PORT" lines on standard output at start, one JSON line per
received event {"agentId","queue","location","message"} (to standard output, or appended to FILE with
--events-json FILE), and one line per agent status change on standard error
("agent 001 (web01) pending").

  --port N            remoted port; 0 picks a free one (default 1514)
  --host ADDR         address to listen on (default 127.0.0.1)
  --keys FILE         client.keys of the agents to accept (default: none)
  --udp               also listen on UDP, same port
  --authd-port N      run authd on this port (0 picks a free one)
  --password-file F   authd password: the first line of F (needs --authd-port)
  --events-json DEST  where event JSON lines go: a file (appended) or - for standard output (default -)
  --name NAME         node name recorded with each event (default node01)`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  keys: { type: 'string' },
  udp: { type: 'boolean' },
  'authd-port': { type: 'string' },
  'password-file': { type: 'string' },
  'events-json': { type: 'string' },
  name: { type: 'string' },
} as const;

/** The streams and signal `runManager` uses. */
export interface ManagerCliIo {
  /** Listening lines and (by default) event JSON lines. */
  stdout: NodeJS.WritableStream;
  /** Agent status lines and errors. */
  stderr: NodeJS.WritableStream;
  /** Aborting it stops the manager; `runManager` then resolves 0. */
  signal?: AbortSignal;
  /** Directory relative paths are resolved against. @default process.cwd() */
  cwd?: string;
}

function usage(message: string): ToolError {
  return new ToolError(message, 'ERR_USAGE');
}

function parsePort(text: string | undefined, flag: string, def: number | undefined): number | undefined {
  if (text === undefined) return def;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw usage(`${flag} must be a port number from 0 to 65535, got '${text}'`);
  return Number(text);
}

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw translateParseArgsError(err, Object.keys(OPTIONS), 'manager');
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Runs `agentlink manager` until `io.signal` aborts. (`--help` is printed by the dispatcher.)
 *
 * @param argv - the arguments after `manager`.
 * @param io - output streams, the stop signal and the working directory.
 * @returns 0 after a clean stop.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for a bad flag, `ERR_LISTEN` when remoted or authd
 *   cannot listen; {@link agentlink!ConfigError} for a keys or password file that cannot be used.
 */
export async function runManager(argv: string[], io: ManagerCliIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const { options, keysPath, eventsPath } = await prepare(argv, cwd);
  if (io.signal?.aborted) return 0;

  const manager = new MockManager(options);
  let ports: Awaited<ReturnType<MockManager['start']>>;
  try {
    ports = await manager.start();
  } catch (err) {
    await manager.close();
    throw err;
  }

  const sink = eventsPath === undefined ? io.stdout : createWriteStream(resolve(cwd, eventsPath), { flags: 'a' });
  const host = manager.host;
  if (ports.tcp !== undefined) io.stdout.write(`listening tcp ${host}:${ports.tcp}\n`);
  if (ports.udp !== undefined) io.stdout.write(`listening udp ${host}:${ports.udp}\n`);
  if (ports.authd !== undefined) io.stdout.write(`listening authd ${host}:${ports.authd}\n`);

  manager.on('event', (e) => {
    sink.write(`${JSON.stringify({ agentId: e.agentId, queue: e.queue, location: e.location, message: e.message })}\n`);
  });
  // what remoted refuses (an unknown agent id, a wrong key, a bad source address, a replayed
  // counter...) is one line each, as wazuh-remoted logs it
  manager.on('decodeError', (err, peer) => {
    const agent = peer.agentId === undefined ? '' : ` (agent ${peer.agentId})`;
    io.stderr.write(`refused ${peer.protocol} ${peer.remoteAddress}:${peer.remotePort}${agent}: ${oneLine(err.message)} (${err.code})\n`);
  });
  manager.on('agentStatus', (id, status) => {
    io.stderr.write(`agent ${id} (${manager.keyStore.get(id)?.name ?? '?'}) ${status}\n`);
  });

  // Enrolled agents are appended to the keys file, one atomic rewrite at a time.
  let saving = Promise.resolve();
  manager.authd?.on('enrolled', (key) => {
    io.stderr.write(`agent ${key.id} (${key.name}) enrolled\n`);
    if (keysPath === undefined) return;
    saving = saving
      .then(() => manager.keyStore.save(keysPath))
      .catch((err: unknown) => {
        io.stderr.write(`agentlink manager: ${oneLine(err instanceof Error ? err.message : String(err))}\n`);
      });
  });

  await new Promise<void>((done) => {
    if (io.signal === undefined) return; // runs until the process ends
    if (io.signal.aborted) done();
    else io.signal.addEventListener('abort', () => done(), { once: true });
  });
  await manager.close();
  await saving;
  if (sink !== io.stdout) await new Promise<void>((r) => (sink as NodeJS.WritableStream).end(() => r()));
  return 0;
}

async function prepare(argv: string[], cwd: string) {
  const { values } = parse(argv);
  const port = parsePort(values.port, '--port', 1514)!;
  const authdPort = parsePort(values['authd-port'], '--authd-port', undefined);
  if (values['password-file'] !== undefined && authdPort === undefined) throw usage('--password-file needs --authd-port');
  const name = values.name ?? 'node01';
  if (name.length === 0) throw usage('--name must not be empty');

  let keys = new KeyStore();
  let keysPath: string | undefined;
  if (values.keys !== undefined) {
    keysPath = resolve(cwd, values.keys);
    const exists = await access(keysPath).then(
      () => true,
      () => false,
    );
    if (exists) keys = await KeyStore.load(keysPath);
    else if (authdPort === undefined) throw usage(`--keys file '${values.keys}' does not exist`);
  }

  const password =
    values['password-file'] === undefined ? undefined : await readPasswordFile(values['password-file'], { baseDir: cwd, element: '--password-file' });

  const protocols: ManagerProtocol[] = values.udp ? ['tcp', 'udp'] : ['tcp'];
  const options: MockManagerOptions = {
    keys,
    host: values.host ?? '127.0.0.1',
    port,
    protocols,
    name,
  };
  if (authdPort !== undefined) options.authd = password === undefined ? { port: authdPort } : { port: authdPort, password };
  const eventsJson = values['events-json'];
  return { options, keysPath, eventsPath: eventsJson === undefined || eventsJson === '-' ? undefined : eventsJson };
}
