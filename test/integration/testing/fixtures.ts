import { readFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import type { AgentKey } from '../../../src/index.js';

export const VECTORS = JSON.parse(readFileSync(new URL('../../unit/protocol/fixtures/protocol-vectors.json', import.meta.url), 'utf8')) as {
  vectors: {
    id: string;
    description: string;
    inputs: { key_line: string; method: 'aes' | 'blowfish'; id_header: boolean; message_ascii?: string; compressed_hex?: string };
    expected: { tcp_frame_hex: string; payload_hex: string };
  }[];
  negative_vectors: { id: string; payload_hex: string }[];
};

export const VECTOR_KEY: AgentKey = {
  id: '001',
  name: 'agent1',
  ip: 'any',
  key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};

/** Registers cleanups that run after each test, in reverse order. */
export function useCleanup(): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of fns.splice(0).reverse()) await fn();
  });
  return (fn) => {
    fns.push(fn);
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `fn` returns true. */
export async function until(fn: () => boolean, timeout = 3000, step = 10): Promise<void> {
  const end = Date.now() + timeout;
  while (!fn()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(step);
  }
}
