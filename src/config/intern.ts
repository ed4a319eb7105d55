/**
 * Resolved option parts shared by the clients that resolve to equal values. Internal: not part of
 * the public API.
 *
 * A fleet builds thousands of clients from one set of settings, and each held its own copy of every
 * part (about 0.5 KB of heap per idle agent). Shared parts are frozen; only plain data (strings,
 * numbers, booleans, arrays and plain objects of them) is shared, anything else (a Buffer, a
 * function) stays the client's own.
 *
 * @internal
 * @module
 */

/** Distinct parts kept; past it the table starts over (the parts already handed out stay shared). */
const INTERN_LIMIT = 256;
const interned = new Map<string, unknown>();

/**
 * Interns one kind of resolved part (`servers`, `buffer`, ...). The part interned last is compared
 * first, field by field, without building a key: clients built in a burst from options of one shape
 * resolve to equal parts one after the other, so the comparison mostly hits and the key (a string
 * of the whole part) is built only on a miss.
 *
 * @internal
 */
export class PartInterner {
  /** The shared part returned last (frozen plain data), or undefined before the first. */
  #last: object | undefined;
  /** The part of a left-out option, and the context values it was resolved with. */
  #absent: unknown;
  #absentA: unknown;
  #absentB: unknown;

  /**
   * The part of an option left out, which depends on the context values only: resolved and interned
   * once, and again only when a context value changes (compared with `===`), so the clients of a
   * fleet that leave a section out neither resolve nor compare it.
   *
   * @param a - first context value the resolver reads.
   * @param b - second context value the resolver reads.
   * @param resolve - resolves the part from the context alone; when it throws nothing is kept.
   * @returns the shared part.
   */
  absent<A, B, T>(a: A, b: B, resolve: (a: A, b: B) => T): T {
    if (this.#absent !== undefined && this.#absentA === a && this.#absentB === b) return this.#absent as T;
    const part = this.intern(resolve(a, b));
    this.#absent = part;
    this.#absentA = a;
    this.#absentB = b;
    return part;
  }

  /**
   * @param value - a freshly resolved part, not yet handed out.
   * @returns the shared frozen part equal to it, or `value` itself (frozen, now shared) when it is
   *   the first of its value, or `value` unchanged when it holds something other than plain data.
   */
  intern<T>(value: T): T {
    const last = this.#last;
    if (last !== undefined && plainEqual(value, last, 0)) return last as T;
    const key = plainKey(value, 0);
    if (key === undefined) return value;
    let hit = interned.get(key) as T | undefined;
    if (hit === undefined) {
      if (interned.size >= INTERN_LIMIT) interned.clear();
      hit = deepFreeze(value);
      interned.set(key, hit);
    }
    if (typeof hit === 'object' && hit !== null) this.#last = hit;
    return hit;
  }
}

/**
 * Whether `v` holds the same plain data as `shared`, a part built by {@link PartInterner} (so plain
 * data itself): equal where {@link plainKey} gives equal keys, except that it does not look at the
 * order of an object's keys (a part's keys come in the order its resolver writes them) and says
 * "not equal" for NaN, leaving such values to the key.
 */
function plainEqual(v: unknown, shared: unknown, depth: number): boolean {
  if (v === shared) return true;
  if (typeof v !== 'object' || v === null || typeof shared !== 'object' || shared === null || depth > 4) return false;
  if (Array.isArray(v)) {
    if (!Array.isArray(shared) || v.length !== shared.length) return false;
    for (let i = 0; i < v.length; i++) if (!plainEqual(v[i], shared[i], depth + 1)) return false;
    return true;
  }
  if (Array.isArray(shared) || Object.getPrototypeOf(v) !== Object.prototype) return false;
  const a = v as Record<string, unknown>;
  const b = shared as Record<string, unknown>;
  let keys = 0;
  for (const k in a) {
    if (!Object.hasOwn(a, k)) continue;
    if (!Object.hasOwn(b, k) || !plainEqual(a[k], b[k], depth + 1)) return false;
    keys++;
  }
  for (const k in b) if (Object.hasOwn(b, k)) keys--;
  return keys === 0;
}

/** A string equal for equal plain data (undefined kept apart from absent), or undefined for anything else. */
function plainKey(v: unknown, depth: number): string | undefined {
  if (v === undefined) return 'u';
  if (v === null || typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (depth > 4 || typeof v !== 'object') return undefined;
  const parts: string[] = [];
  if (Array.isArray(v)) {
    for (const x of v) {
      const k = plainKey(x, depth + 1);
      if (k === undefined) return undefined;
      parts.push(k);
    }
    return `[${parts.join(',')}]`;
  }
  if (Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  for (const [name, x] of Object.entries(v)) {
    const k = plainKey(x, depth + 1);
    if (k === undefined) return undefined;
    parts.push(`${JSON.stringify(name)}:${k}`);
  }
  return `{${parts.join(',')}}`;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
