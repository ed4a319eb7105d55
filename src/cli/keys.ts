/**
 * `agentlink keys generate N [--prefix sim-] [--ip any] [-o client.keys] [--force]`: writes N agent
 * identities in client.keys format (ids 001, 002, …, names prefix + id, random 64-hex keys).
 *
 * @module
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ToolError } from '../errors.js';
import { isValidKeyIp } from '../protocol/keys.js';
import { MAX_AGENTS, translateParseArgsError } from '../simulator/index.js';
import { KeyStore } from '../testing/index.js';
import type { AgentKey } from '../protocol/types.js';
import type { CliIo } from './io.js';

/** Help text of `agentlink keys`. */
export const KEYS_USAGE = `Usage: agentlink keys generate N [--prefix sim-] [--ip any] [-o client.keys] [--force]

Write N agent identities in client.keys format: ids 001, 002, ..., names PREFIX + id (sim-001),
random 64-hex keys. Without -o the keys go to standard output. The file is written with mode 0640.

  --prefix TEXT     name prefix (default sim-)
  --ip IP           the ip field of every key: any, an address or a CIDR (default any)
  -o, --output FILE file to write
  --force           overwrite FILE if it exists`;

const OPTIONS = {
  prefix: { type: 'string' },
  ip: { type: 'string' },
  output: { type: 'string', short: 'o' },
  force: { type: 'boolean' },
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (err) {
    throw translateParseArgsError(err, Object.keys(OPTIONS), 'keys');
  }
}

/**
 * Runs `agentlink keys`.
 *
 * @param argv - the arguments after `keys`.
 * @param io - streams.
 * @returns the exit code (0 on success).
 * @throws {@link agentlink!ToolError} `ERR_USAGE` for a bad count, prefix or subcommand, or an existing file without `--force`.
 */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv);
  const [sub, countText, ...rest] = positionals;
  if (sub !== 'generate') {
    throw new ToolError(sub === undefined ? 'missing subcommand; write agentlink keys generate N' : `unknown subcommand '${sub}'; write agentlink keys generate N`, 'ERR_USAGE');
  }
  if (rest.length > 0) throw new ToolError(`unexpected argument '${rest[0]}'; write agentlink keys generate N`, 'ERR_USAGE');
  const count = countText !== undefined && /^\d+$/.test(countText) ? Number(countText) : NaN;
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_AGENTS) {
    throw new ToolError(`N must be a whole number from 1 to ${MAX_AGENTS}, e.g. agentlink keys generate 1000; got ${countText ?? 'nothing'}`, 'ERR_USAGE');
  }
  const prefix = values.prefix ?? 'sim-';
  const ip = values.ip ?? 'any';
  if (!isValidKeyIp(ip)) throw new ToolError(`--ip '${ip}' must be any, an IP address or a CIDR block (e.g. 10.0.0.0/8)`, 'ERR_USAGE');
  const store = new KeyStore();
  try {
    store.generate(count, { namePrefix: prefix, ip });
  } catch (err) {
    throw new ToolError(
      `--prefix '${prefix}' makes invalid agent names; names are 2 to 128 characters of letters, digits, '.', '_' and '-', not starting with '.'`,
      'ERR_USAGE',
      { cause: err },
    );
  }
  if (values.output === undefined) {
    io.stdout.write(store.toString());
    return 0;
  }
  await writeKeysFile(store.list(), values.output, { cwd: io.cwd ?? process.cwd(), force: values.force === true });
  io.stderr.write(`agentlink keys: wrote ${count} agent ${count === 1 ? 'identity' : 'identities'} to ${values.output}\n`);
  return 0;
}

/**
 * Writes client.keys entries to the file an `-o` flag names (mode 0640, replaced atomically),
 * refusing to replace an existing file unless `force`: the file may be the keys a running manager
 * or agent uses.
 *
 * @param keys - the entries (secrets: never printed).
 * @param output - the path as the user wrote it, relative to `options.cwd`.
 * @param options - the working directory and whether to overwrite.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` when the file exists and `force` is false.
 * @throws {@link agentlink!ConfigError} `ERR_CONFIG_KEYS` when the file cannot be written.
 */
export async function writeKeysFile(keys: readonly AgentKey[], output: string, options: { cwd: string; force: boolean }): Promise<void> {
  const path = resolve(options.cwd, output);
  if (!options.force) {
    const exists = await access(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new ToolError(`${output} already exists; add --force to overwrite it or choose another -o file`, 'ERR_USAGE');
  }
  await new KeyStore(keys).save(path);
}
