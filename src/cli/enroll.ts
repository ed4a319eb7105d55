/**
 * `agentlink enroll --manager HOST[:PORT] [--name NAME] [--password-file F] [--groups a,b]
 * [--agent-address IP|CIDR|src] [--ca F] [--cert F --key F] [--timeout 60s] [-o client.keys [--force]]`:
 * enrolls one agent with a manager's authd through the SDK's {@link enroll}, and prints or writes
 * its client.keys line.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { readConfigFile, readPasswordFile } from '../config/files.js';
import { defaultAgentName } from '../config/host.js';
import { DEFAULT_ENROLLMENT_PORT } from '../config/options.js';
import { enroll } from '../enrollment/client.js';
import type { EnrollOptions } from '../enrollment/client.js';
import { ToolError } from '../errors.js';
import { formatClientKeys } from '../protocol/keys.js';
import { parseFlagDuration, parseHostPort, translateParseArgsError } from '../simulator/index.js';
import type { CliIo } from './io.js';
import { writeKeysFile } from './keys.js';

/** Help text of `agentlink enroll`. */
export const ENROLL_USAGE = `Usage: agentlink enroll --manager HOST[:PORT] [--name NAME] [--password-file FILE] [--groups a,b]
                        [--agent-address IP|CIDR|src] [--ca FILE] [--cert FILE --key FILE]
                        [--timeout 60s] [-o client.keys [--force]]

Enroll one agent with a manager's authd (TLS) and print its client.keys line (id, name, IP, key)
on standard output, or write it to a file with -o. A refusal by authd (wrong password, unknown
group, duplicate name), a connection or certificate failure and a bad reply are the SDK's
enrollment errors: one line with the reason and the code (ERR_ENROLLMENT_REJECTED,
ERR_ENROLLMENT_CONNECTION, ERR_ENROLLMENT_RESPONSE), exit code 1.

  --manager HOST[:PORT]  authd address; port 1515 unless given ([::1]:1515 for IPv6)
  --name NAME            agent name (default: this host's name)
  --password-file FILE   authd password: the first line of FILE
  --groups a,b           groups to join
  --agent-address ADDR   the IP the manager records: an IP, a CIDR, or src (the connection's source)
  --ca FILE              PEM CA: the manager's certificate must be signed by it and match HOST;
                         without --ca the certificate is not verified, as Wazuh agents do
  --cert FILE            PEM client certificate, for an authd that verifies agents (needs --key)
  --key FILE             PEM key of --cert
  --timeout DURATION     deadline for connect, TLS handshake and reply (default 60s; 0 waits forever)
  -o, --output FILE      write the client.keys line to FILE (mode 0640)
  --force                overwrite FILE if it exists`;

const OPTIONS = {
  manager: { type: 'string' },
  name: { type: 'string' },
  'password-file': { type: 'string' },
  groups: { type: 'string' },
  'agent-address': { type: 'string' },
  ca: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  timeout: { type: 'string' },
  output: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw translateParseArgsError(err, Object.keys(OPTIONS), 'enroll');
  }
}

/**
 * Runs `agentlink enroll`.
 *
 * @param argv - the arguments after `enroll`.
 * @param io - streams, signal (Ctrl-C aborts the enrollment) and working directory.
 * @returns 0 once the key is printed or written.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for a missing `--manager`, a bad flag value, or an existing
 *   `-o` file without `--force`.
 * @throws {@link agentlink!ConfigError} for a file that cannot be read or an invalid name, group or address
 *   (the SDK's checks).
 * @throws {@link agentlink!EnrollmentError} `ERR_ENROLLMENT_REJECTED`, `ERR_ENROLLMENT_CONNECTION` or
 *   `ERR_ENROLLMENT_RESPONSE`, as {@link enroll} throws them.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(argv);
  if (values.manager === undefined) {
    throw new ToolError('--manager is required: give the authd address, e.g. agentlink enroll --manager wazuh.example:1515', 'ERR_USAGE');
  }
  if (values.force === true && values.output === undefined) throw new ToolError('--force needs -o FILE', 'ERR_USAGE');
  const { host, port } = parseHostPort(values.manager, '--manager', DEFAULT_ENROLLMENT_PORT);
  const baseDir = io.cwd ?? process.cwd();
  const file = (path: string | undefined, element: string): Promise<string> | undefined =>
    path === undefined ? undefined : readConfigFile(path, { baseDir, element });

  const options: EnrollOptions = {
    host,
    port,
    name: values.name ?? defaultAgentName(),
    groups: values.groups?.split(',').map((g) => g.trim()),
    agentAddress: values['agent-address'],
    password: values['password-file'] === undefined ? undefined : await readPasswordFile(values['password-file'], { baseDir, element: '--password-file' }),
    ca: await file(values.ca, '--ca'),
    cert: await file(values.cert, '--cert'),
    key: await file(values.key, '--key'),
    timeout: values.timeout === undefined ? undefined : parseFlagDuration(values.timeout, '--timeout'),
    signal: io.signal,
  };
  const key = await enroll(options);

  const where = `authd at ${host}:${port}`;
  if (values.output === undefined) {
    io.stdout.write(formatClientKeys([key]));
    io.stderr.write(`agentlink enroll: enrolled as agent ${key.id} (${key.name}) with ${where}\n`);
  } else {
    await writeKeysFile([key], values.output, { cwd: baseDir, force: values.force === true });
    io.stderr.write(`agentlink enroll: enrolled as agent ${key.id} (${key.name}) with ${where}; wrote its key to ${values.output}\n`);
  }
  return 0;
}
