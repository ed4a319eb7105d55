/**
 * Where simulated agents get their identities: generated deterministically from the run seed (for
 * an embedded mock cluster), read from a client.keys file, or left to enrollment. Also the source
 * address each agent binds to when a fleet is spread over 127.0.0.0/8.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, ToolError, parseClientKeys } from '../index.js';
import type { AgentKey } from '../index.js';

/** Name prefix of generated and enrolled simulated agents (`sim-000001`). */
export const SIMULATED_NAME_PREFIX = 'sim-';

/**
 * The identity of simulated agent `index` (0-based) of a generated fleet: id `index + 1` written
 * with at least three digits (`001`), name `sim-` and six digits, `ip` `any`, and a 64-hex key
 * derived from the seed. The same seed and index always give the same identity, so shards,
 * workers and the cluster process agree without exchanging keys.
 *
 * @param index - the agent's 0-based index in the whole fleet.
 * @param seed - the run seed.
 * @returns the client.keys entry.
 */
export function simulatedIdentity(index: number, seed: string): AgentKey {
  const n = index + 1;
  const key = createHash('sha256').update(`agentlink-sim\0${seed}\0${n}`).digest('hex');
  return { id: String(n).padStart(3, '0'), name: simulatedAgentName(index), ip: 'any', key };
}

/**
 * The name of simulated agent `index` (also the name it asks for at enrollment).
 *
 * @param index - the agent's 0-based index in the whole fleet.
 * @returns `sim-000001` for index 0.
 */
export function simulatedAgentName(index: number): string {
  return `${SIMULATED_NAME_PREFIX}${String(index + 1).padStart(6, '0')}`;
}

/**
 * Generated identities for the given agent indexes.
 *
 * @param indexes - 0-based agent indexes.
 * @param seed - the run seed.
 * @returns one identity per index, in the same order.
 */
export function simulatedIdentities(indexes: readonly number[], seed: string): AgentKey[] {
  return indexes.map((i) => simulatedIdentity(i, seed));
}

/**
 * Reads a client.keys file for a fleet: agent `i` takes the file's entry `i` (removed `!` entries
 * skipped).
 *
 * @param path - the file, resolved against `cwd`.
 * @param agents - fleet size (all shards together): the file must hold at least this many entries.
 * @param cwd - directory relative paths are resolved against.
 * @returns the entries, in file order.
 * @throws {@link agentlink!ToolError} `ERR_USAGE` when the file cannot be read, has an invalid line (named by
 *   number) or holds fewer identities than `agents`, saying what to change.
 */
export function loadKeysFile(path: string, agents: number, cwd = process.cwd()): AgentKey[] {
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'read error';
    throw new ToolError(`--keys '${path}': cannot read the file (${code}); give a client.keys file the managers know (agentlink keys generate N -o FILE writes one)`, 'ERR_USAGE', {
      cause: err,
    });
  }
  let keys: AgentKey[];
  try {
    keys = parseClientKeys(text);
  } catch (err) {
    const detail = err instanceof ConfigError ? err.message : String(err);
    throw new ToolError(`--keys '${path}': ${detail}`, 'ERR_USAGE', { cause: err });
  }
  if (keys.length === 0) {
    throw new ToolError(
      `--keys '${path}' holds no agent identity; give a client.keys file with at least ${agents} entries the managers know ` +
        `(agentlink keys generate ${agents} -o FILE writes new ones; the managers must get them too)`,
      'ERR_USAGE',
    );
  }
  if (keys.length < agents) {
    // never suggest rewriting PATH: it may be the file the managers use
    throw new ToolError(
      `--keys '${path}' holds ${keys.length} agent ${keys.length === 1 ? 'identity' : 'identities'} but --agents is ${agents}; ` +
        `lower --agents to ${keys.length}, or give a file with ${agents} entries the managers know ` +
        `(agentlink keys generate ${agents} -o FILE writes new ones; the managers must get them too)`,
      'ERR_USAGE',
    );
  }
  return keys;
}

/**
 * The loopback source address agent `index` binds to when the fleet is spread over `count`
 * addresses of 127.0.0.0/8: 127.0.0.1, 127.0.0.2, … in turn (the network and broadcast addresses of
 * each /24 are skipped).
 *
 * @param index - the agent's 0-based index in the whole fleet.
 * @param count - how many source addresses to use; 0 or 1 binds nothing (the OS chooses).
 * @returns the address, or undefined when `count` is below 2.
 */
export function sourceAddressFor(index: number, count: number): string | undefined {
  if (!(count >= 2)) return undefined;
  // host numbers 1..254 in every /24 of 127.0.0.0/8
  const k = index % count;
  const perNet = 254;
  const net = Math.floor(k / perNet);
  const host = (k % perNet) + 1;
  return `127.${(net >> 8) & 255}.${net & 255}.${host}`;
}

/** Agents one source address carries before the fleet spreads over more (stays well below the ~28 000 ephemeral ports per address). */
export const AGENTS_PER_SOURCE_ADDRESS = 10_000;

/**
 * How many loopback source addresses a process holding `agents` agents needs so that no address
 * runs out of ephemeral ports (reconnections leave sockets in TIME_WAIT, hence the margin).
 *
 * @param agents - agents in the process.
 * @returns 0 (let the OS choose) up to a few addresses.
 */
export function autoSourceAddresses(agents: number): number {
  return agents <= AGENTS_PER_SOURCE_ADDRESS ? 0 : Math.ceil(agents / AGENTS_PER_SOURCE_ADDRESS) + 1;
}
