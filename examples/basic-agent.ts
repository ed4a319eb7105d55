/**
 * The smallest agent: one identity, one manager, a few events, a clean stop.
 *
 * Run against a real Wazuh manager:
 *   WAZUH_MANAGER=10.0.0.5 WAZUH_AGENT='001 web01 any <key>' node dist/examples/basic-agent.js
 * Without WAZUH_MANAGER it starts a MockManager on 127.0.0.1 and talks to that.
 */
import { AgentClient, parseClientKeys } from 'agentlink';
import { MockManager } from 'agentlink/testing';

const keyLine = process.env.WAZUH_AGENT ?? `001 example-agent any ${'a'.repeat(64)}`;
const [key] = parseClientKeys(`${keyLine}\n`);
if (!key) throw new Error('WAZUH_AGENT must be a client.keys line: <id> <name> <ip> <key>');

let mock: MockManager | undefined;
let address = process.env.WAZUH_MANAGER;
let port = 1514;
if (!address) {
  mock = new MockManager({ keys: [key] });
  await mock.start();
  address = '127.0.0.1';
  port = mock.port;
}

const agent = new AgentClient({ agent: key, servers: [{ address, port }] });
agent.on('error', (err) => console.warn(`agent: ${err.code}: ${err.message}`));
await agent.start();
console.log(`connected to ${address}:${port} as ${key.name} (${key.id})`);

agent.sendEvent({ location: '/var/log/auth.log', message: 'Jan  1 00:00:00 web01 sshd[42]: Accepted publickey for admin' });
agent.sendEvent({ queue: '1', location: 'agentlink-example', message: JSON.stringify({ hello: 'world' }) });

if (mock) await mock.waitForEvents(2); // the mock confirms both events arrived
await agent.stop({ drainTimeout: 2000 });
if (mock) {
  console.log('the mock manager received:', mock.receivedEvents().map((e) => `${e.location}: ${e.message}`));
  await mock.close();
}
