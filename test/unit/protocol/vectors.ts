/**
 * Typed access to the shared protocol vectors (a copy of /work/shared/vectors/protocol-vectors.json).
 * Expected bytes in the tests come from here, never from the encoder under test.
 */
import { readFileSync } from 'node:fs';
import type { AgentKey, CryptoMethod } from '../../../src/index.js';

export interface VectorInputs {
  key_line: string;
  method: CryptoMethod;
  id_header: boolean;
  random?: number;
  global_counter?: number;
  local_counter?: number;
  message_ascii?: string;
  zlib_level?: number;
  compressed_hex?: string;
}

export interface VectorExpected {
  block_ascii?: string;
  md5_of_block?: string;
  plaintext_before_compression_hex?: string;
  compressed_hex?: string;
  compressed_len?: number;
  bang_padding_count?: number;
  padded_hex: string;
  aes_pkcs7_pad_bytes?: number;
  ciphertext_hex: string;
  payload_hex: string;
  payload_len?: number;
  tcp_frame_hex: string;
}

export interface Vector {
  id: string;
  description: string;
  inputs: VectorInputs;
  expected: VectorExpected;
}

export interface KeyDerivationVector {
  inputs: { id: string; name: string; raw_key: string };
  expected: {
    md5_name: string;
    md5_id: string;
    md5_name_id: string;
    md5_key: string;
    encryption_key: string;
    aes_key_ascii: string;
    blowfish_key_ascii: string;
  };
}

export interface ProtocolVectors {
  key_derivation: KeyDerivationVector[];
  enrollment: { key_hash_K_inputs: { id: string; name: string; raw_key: string }; key_hash_K_sha1_of_id_name_key_concatenated: string };
  counter_sequence_from_0_9995: string[];
  vectors: Vector[];
  negative_vectors: { id: string; description: string; payload_hex: string; reference_decoder_error: string }[];
  message_catalog: {
    agent_to_manager: Record<string, string>;
    manager_generated_for_analysisd: Record<string, string>;
    manager_to_agent: Record<string, string>;
    plain_unencrypted: Record<string, string>;
  };
}

export const V: ProtocolVectors = JSON.parse(
  readFileSync(new URL('./fixtures/protocol-vectors.json', import.meta.url), 'utf8'),
) as ProtocolVectors;

/** Splits a key line on its first three spaces (independent of the parser under test). */
export function keyFromLine(line: string): AgentKey {
  const [id, name, ip, ...rest] = line.split(' ');
  return { id: id!, name: name!, ip: ip!, key: rest.join(' ') };
}

export const hex = (h: string): Buffer => Buffer.from(h, 'hex');

export function vector(id: string): Vector {
  const v = V.vectors.find((x) => x.id === id);
  if (!v) throw new Error(`no vector ${id}`);
  return v;
}

/** Vectors that carry a full message (not the encryption-layer-only ones). */
export const fullVectors = V.vectors.filter((v) => v.inputs.message_ascii !== undefined);
