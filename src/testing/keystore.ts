/**
 * The manager-side key store shared by the mock manager, the mock authd and the mock cluster: the
 * in-memory equivalent of the manager's `etc/client.keys` (protocol.md 2.1 and 7.5).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { EventEmitter } from 'eventemitter3';
import { ConfigError } from '../errors.js';
import { isValidAgentId, isValidAgentName, isValidKeyIp, normalizeSourceIp, parseClientKeysDetailed } from '../protocol/keys.js';
import type { AgentKey } from '../protocol/types.js';

/** Events of a {@link KeyStore}. */
export interface KeyStoreEvents {
  /** A key was added (by {@link KeyStore.add}, {@link KeyStore.generate} or an authd enrollment). */
  added: [key: AgentKey];
  /** A key was removed; its id still counts for {@link KeyStore.nextId}. */
  removed: [key: AgentKey];
}

/** Options of {@link KeyStore.generate}. */
export interface GenerateKeysOptions {
  /**
   * Prefix of the generated names; the name is the prefix followed by the id (`agent001`).
   * @default 'agent'
   */
  namePrefix?: string;
  /**
   * The `ip` field of every generated key (`any`, an address or a CIDR).
   * @default 'any'
   */
  ip?: string;
}

/**
 * The set of agent keys a manager knows, indexed by id, name and IP.
 *
 * Ids are compared as strings (`001` and `1` are different agents), as Wazuh does. Removed keys keep
 * their id reserved: {@link KeyStore.nextId} returns `%03d` of the highest id ever seen plus one,
 * removed entries included (protocol.md 7.5 rule 2). Keys are secrets: the store never logs them
 * and no error message contains one.
 *
 * @example
 * ```ts
 * const store = new KeyStore();
 * const [a, b] = store.generate(2);          // agent001, agent002 with random 64-hex keys
 * const manager = new MockManager({ keys: store });
 * await store.save('/tmp/client.keys');
 * ```
 */
export class KeyStore extends EventEmitter<KeyStoreEvents> {
  readonly #byId = new Map<string, AgentKey>();
  readonly #byName = new Map<string, AgentKey>();
  readonly #byIp = new Map<string, AgentKey>();
  /** Removed entries, kept so that {@link KeyStore.save} writes them as `!name` lines. */
  readonly #removed = new Map<string, AgentKey>();
  readonly #groups = new Map<string, readonly string[]>();
  #highestId = 0;

  /**
   * Looks an agent up by id; usable as the `keys` argument of `decodeSecureMessage`.
   *
   * @param id - the agent id, as written (`"001"`).
   * @returns the key, or `undefined` for an unknown id.
   */
  readonly lookup = (id: string): AgentKey | undefined => this.#byId.get(id);

  /**
   * @param keys - initial entries, as key objects or as client.keys text (removed `!name`/`#name`
   *   entries in the text reserve their ids).
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG_KEYS` for an invalid client.keys line or a duplicate id.
   */
  constructor(keys?: readonly AgentKey[] | string) {
    super();
    if (typeof keys === 'string') {
      const parsed = parseClientKeysDetailed(keys);
      for (const id of parsed.removedIds) this.#noteId(id);
      for (const k of parsed.keys) this.#insert(k, false);
    } else if (keys !== undefined) {
      for (const k of keys) this.#insert(k, false);
    }
  }

  /**
   * Reads a client.keys file.
   *
   * @param path - the file path.
   * @returns a store holding the file's entries.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG_KEYS` when the file cannot be read or has an invalid line.
   */
  static async load(path: string): Promise<KeyStore> {
    let text: string;
    try {
      text = await readFile(path, 'latin1');
    } catch (err) {
      throw new ConfigError(`cannot read client.keys file '${path}': ${(err as Error).message}`, { element: path, cause: err }, 'ERR_CONFIG_KEYS');
    }
    return new KeyStore(text);
  }

  /**
   * Writes the store as a client.keys file, atomically (a temporary file in the same directory,
   * then a rename), with mode 0640 as Wazuh does. Removed entries are written with a `!` before the
   * name so their ids stay reserved when the file is loaded again.
   *
   * @param path - the file path.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG_KEYS` when the file cannot be written.
   */
  async save(path: string): Promise<void> {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, this.toString(), { encoding: 'latin1', mode: 0o640 });
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new ConfigError(`cannot write client.keys file '${path}': ${(err as Error).message}`, { element: path, cause: err }, 'ERR_CONFIG_KEYS');
    }
  }

  /**
   * The store as client.keys text: live entries, then removed ones as `<id> !<name> <ip> <key>`.
   *
   * @returns the file content (contains secrets: do not log it).
   */
  override toString(): string {
    let out = '';
    for (const k of this.#byId.values()) out += `${k.id} ${k.name} ${k.ip} ${k.key}\n`;
    for (const k of this.#removed.values()) out += `${k.id} !${k.name} ${k.ip} ${k.key}\n`;
    return out;
  }

  /** Number of live (not removed) keys. */
  get size(): number {
    return this.#byId.size;
  }

  /**
   * @param id - the agent id, as written.
   * @returns the key, or `undefined`.
   */
  get(id: string): AgentKey | undefined {
    return this.#byId.get(id);
  }

  /**
   * Finds the key whose `ip` field is exactly this address (`a.b.c.d` or `a.b.c.d/32`), as the
   * manager identifies agents that send no `!id!` header (protocol.md 3.3 step 2). Keys with `any`
   * or a wider CIDR never match. IPv4-mapped IPv6 addresses are compared as IPv4.
   *
   * @param ip - the source address.
   * @returns the key, or `undefined`.
   */
  findByIp(ip: string): AgentKey | undefined {
    return this.#byIp.get(normalizeSourceIp(ip));
  }

  /**
   * @param name - the agent name.
   * @returns the key, or `undefined`.
   */
  findByName(name: string): AgentKey | undefined {
    return this.#byName.get(name);
  }

  /** @returns every live key, in insertion order. */
  list(): AgentKey[] {
    return [...this.#byId.values()];
  }

  /**
   * The live keys by id, usable as the `keys` argument of `decodeSecureMessage`. This is a live view:
   * do not modify it.
   *
   * @returns the id → key map.
   */
  toMap(): ReadonlyMap<string, AgentKey> {
    return this.#byId;
  }

  /**
   * Adds a key and emits `added`.
   *
   * @param key - the entry; its id must not be live (re-adding a removed id is allowed).
   * @returns the stored key (a copy of `key`).
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG_KEYS` for an invalid id or name, an empty key, or an id already used.
   */
  add(key: AgentKey): AgentKey {
    return this.#insert(key, true);
  }

  /**
   * Removes a key and emits `removed`. The id stays reserved.
   *
   * @param id - the agent id.
   * @returns the removed key, or `undefined` when there was none.
   */
  remove(id: string): AgentKey | undefined {
    const k = this.#byId.get(id);
    if (k === undefined) return undefined;
    this.#byId.delete(id);
    if (this.#byName.get(k.name) === k) this.#byName.delete(k.name);
    const ipKey = singleHostKey(k.ip);
    if (ipKey !== undefined && this.#byIp.get(ipKey) === k) this.#byIp.delete(ipKey);
    this.#removed.set(id, k);
    this.#groups.delete(id);
    this.emit('removed', k);
    return k;
  }

  /**
   * Records the groups of an agent (what authd receives in `G:'…'`); the mock manager pushes the
   * shared files of the first group.
   *
   * @param id - the agent id.
   * @param groups - group names; an empty list resets to `default`.
   */
  setGroups(id: string, groups: readonly string[]): void {
    if (groups.length === 0) this.#groups.delete(id);
    else this.#groups.set(id, [...groups]);
  }

  /**
   * @param id - the agent id.
   * @returns the agent's groups, `['default']` when none were set.
   */
  groupsOf(id: string): readonly string[] {
    return this.#groups.get(id) ?? DEFAULT_GROUPS;
  }

  /**
   * The id a new agent would get: `%03d` of the highest numeric id seen plus one, removed entries
   * included (`001`, `002`, … `999`, `1000`).
   *
   * @returns the next id.
   */
  nextId(): string {
    return String(this.#highestId + 1).padStart(3, '0');
  }

  /**
   * Creates `count` identities with new ids, names `<namePrefix><id>` and random 64-hex keys, adds
   * them and returns them (for simulators and tests).
   *
   * @param count - how many, at least 0.
   * @param opts - name prefix and IP field.
   * @returns the new keys, in id order.
   * @throws {@link agentlink!ConfigError} `ERR_CONFIG` for a negative or non-integer count, `ERR_CONFIG_KEYS` for a
   *   prefix that makes invalid names.
   */
  generate(count: number, opts: GenerateKeysOptions = {}): AgentKey[] {
    if (!Number.isInteger(count) || count < 0) {
      throw new ConfigError(`generate(count): count must be a non-negative integer, got ${String(count)}`, {
        element: 'count',
        value: count,
      });
    }
    const prefix = opts.namePrefix ?? 'agent';
    const ip = opts.ip ?? 'any';
    const out: AgentKey[] = [];
    const random = randomBytes(32 * count).toString('hex');
    for (let i = 0; i < count; i++) {
      const id = this.nextId();
      out.push(this.#insert({ id, name: `${prefix}${id}`, ip, key: random.slice(i * 64, i * 64 + 64) }, true));
    }
    return out;
  }

  #noteId(id: string): void {
    const n = Number(id);
    if (n > this.#highestId) this.#highestId = n;
  }

  #insert(key: AgentKey, emit: boolean): AgentKey {
    if (!isValidAgentId(key.id)) {
      throw new ConfigError(`invalid agent id '${String(key.id).slice(0, 40)}' (expected 1 to 8 digits)`, { element: 'id', value: key.id }, 'ERR_CONFIG_KEYS');
    }
    if (!isValidAgentName(key.name)) {
      throw new ConfigError(
        `invalid agent name '${String(key.name).slice(0, 40)}' for id ${key.id} (expected 2 to 128 characters of [A-Za-z0-9._-], not starting with '.')`,
        { element: 'name', value: key.name },
        'ERR_CONFIG_KEYS',
      );
    }
    if (typeof key.key !== 'string' || key.key.length === 0 || /[\s]/.test(key.key)) {
      throw new ConfigError(`agent ${key.id} has an empty key or a key with whitespace`, { element: 'key', value: '[redacted]' }, 'ERR_CONFIG_KEYS');
    }
    if (typeof key.ip !== 'string' || !isValidKeyIp(key.ip)) {
      throw new ConfigError(
        `agent ${key.id} has an invalid IP field '${String(key.ip).slice(0, 40)}' (expected any, an IP address or a CIDR block)`,
        { element: 'ip', value: key.ip },
        'ERR_CONFIG_KEYS',
      );
    }
    if (this.#byId.has(key.id)) {
      throw new ConfigError(`agent id ${key.id} is already in use`, { element: 'id', value: key.id }, 'ERR_CONFIG_KEYS');
    }
    const k: AgentKey = { id: key.id, name: key.name, ip: key.ip, key: key.key };
    this.#removed.delete(k.id);
    this.#byId.set(k.id, k);
    this.#byName.set(k.name, k);
    const ipKey = singleHostKey(k.ip);
    if (ipKey !== undefined) this.#byIp.set(ipKey, k);
    this.#noteId(k.id);
    if (emit) this.emit('added', k);
    return k;
  }
}

const DEFAULT_GROUPS: readonly string[] = Object.freeze(['default']);

/** The address a single-host key field names (`a.b.c.d`, `a.b.c.d/32`, an IPv6 address), or undefined. */
function singleHostKey(ip: string): string | undefined {
  if (ip === 'any') return undefined;
  const slash = ip.indexOf('/');
  if (slash < 0) return ip;
  const mask = ip.slice(slash + 1);
  if (mask === '32' || mask === '255.255.255.255' || mask === '128') return ip.slice(0, slash);
  return undefined;
}
