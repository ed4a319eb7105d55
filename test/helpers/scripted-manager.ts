/**
 * A scripted manager over the in-memory network, for AgentClient unit tests: decodes what the
 * agent sends with the codec and answers startup/keepalive with ACKs unless told otherwise.
 */
import {
  ACK_MESSAGE,
  decodeSecureMessage,
  encodeSecureMessage,
  nextCounter,
  parseAgentMessage,
} from '../../src/protocol/index.js';
import type { AgentKey, MessageCounter } from '../../src/protocol/index.js';
import type { MemoryConnection, MemoryNetwork, MemoryServer } from '../../src/transport/memory.js';

export interface Received {
  conn: MemoryConnection;
  text: string;
  type: string;
  at: number;
}

export class ScriptedManager {
  readonly server: MemoryServer;
  readonly received: Received[] = [];
  readonly connections: MemoryConnection[] = [];
  autoAck = true;
  handshakeReply: string | undefined;
  #counter: MessageCounter = { global: 0, local: 0 };

  constructor(
    network: MemoryNetwork,
    readonly address: string,
    readonly port: number,
    readonly key: AgentKey,
  ) {
    this.server = network.listen(address, port);
    this.server.on('connection', (conn) => {
      this.connections.push(conn);
      conn.on('payload', (payload) => this.#onPayload(conn, payload));
    });
  }

  #onPayload(conn: MemoryConnection, payload: Buffer): void {
    const decoded = decodeSecureMessage(payload, { keys: [this.key] });
    const text = decoded.message.toString('latin1');
    const msg = parseAgentMessage(decoded.message);
    this.received.push({ conn, text, type: msg.type, at: Date.now() });
    if (msg.type === 'startup' && this.handshakeReply !== undefined) {
      this.send(conn, this.handshakeReply);
      return;
    }
    if ((msg.type === 'startup' || msg.type === 'keepalive') && this.autoAck) this.send(conn, ACK_MESSAGE);
  }

  send(conn: MemoryConnection, text: string | Buffer): void {
    this.#counter = nextCounter(this.#counter);
    conn.send(encodeSecureMessage(text, { key: this.key, method: 'aes', sender: 'manager', counter: this.#counter }));
  }

  events(): string[] {
    return this.received.filter((r) => r.type === 'event').map((r) => r.text);
  }

  count(type: string): number {
    return this.received.filter((r) => r.type === type).length;
  }

  get live(): MemoryConnection | undefined {
    return this.connections.filter((c) => !c.closed).at(-1);
  }
}
