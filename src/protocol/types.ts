/**
 * Types shared by the pure codec (protocol.md sections 2 to 4).
 *
 * @module
 */

/** The cipher of a secure message: `aes` (AES-256-CBC, header `#AES:`) or `blowfish` (Blowfish-CBC, header `:`). */
export type CryptoMethod = 'aes' | 'blowfish';

/** Who built a secure message: agents add the `!id!` header (unless their key IP is a single IPv4 host), managers never do. */
export type Sender = 'agent' | 'manager';

/** One client.keys entry (protocol.md 2.1). */
export interface AgentKey {
  /** Agent id exactly as written (`"001"`); compared as a string. */
  id: string;
  /** Agent name (2 to 128 characters of `[A-Za-z0-9._-]`). */
  name: string;
  /** `any`, an IPv4 address or CIDR, or an IPv6 address: decides the `!id!` header and the manager's source check. */
  ip: string;
  /** The raw key, normally 64 lowercase hex characters. A secret: never log it. */
  key: string;
}

/** A sender counter pair (protocol.md 3.5): `local` runs 1 to 9997, then `global` goes up by one. */
export interface MessageCounter {
  /** Global counter, 0 to 4294967295. */
  global: number;
  /** Local counter, 0 to 9997 (0 only before the first message). */
  local: number;
}
