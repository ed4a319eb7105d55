/**
 * Failover: an agent with an ordered list of two managers sends events, the first manager dies,
 * the agent walks the list to the second one and every event queued meanwhile arrives in order.
 *
 * Run: npm run build && node dist/examples/failover.js
 * (Against real managers, replace the two MockManagers by your servers' addresses and give the
 * agent its client.keys entry.)
 */
import { AgentClient } from 'agentlink';
import { MockManager } from 'agentlink/testing';

const key = { id: '001', name: 'example-agent', ip: 'any', key: 'f'.repeat(64) };

// Two mock managers on 127.0.0.1, random ports, sharing the agent's key.
const node1 = new MockManager({ keys: [key], name: 'node1' });
const node2 = new MockManager({ keys: [key], name: 'node2' });
await node1.start();
await node2.start();

const agent = new AgentClient({
  agent: key,
  servers: [
    { address: '127.0.0.1', port: node1.port, maxRetries: 2, retryInterval: 200 },
    { address: '127.0.0.1', port: node2.port, maxRetries: 2, retryInterval: 200 },
  ],
  notifyTime: 1000,
  timeReconnect: 3000,
});
agent.on('connected', ({ server }) => console.log(`connected to ${server.address}:${server.port}`));
agent.on('failover', ({ from, to, elapsed }) => console.log(`failover ${from.port} -> ${to.port} in ${Math.round(elapsed)} ms`));
agent.on('disconnected', ({ reason }) => console.log(`disconnected: ${reason.code}`));

await agent.start();
for (let i = 0; i < 10; i++) agent.sendEvent({ location: '/var/log/app.log', message: `before ${i}` });
await node1.waitForEvents((e) => e.message === 'before 9');

const lost = new Promise((resolve) => agent.once('disconnected', resolve));
await node1.close(); // the first manager dies
await lost;
for (let i = 0; i < 10; i++) agent.sendEvent({ location: '/var/log/app.log', message: `after ${i}` });

const received = await node2.waitForEvents((e) => e.message.startsWith('after '), { count: 10, timeout: 10_000 });
console.log(`node2 received ${received.length} events queued during the failover, in order:`, received.map((e) => e.message).join(', '));
if (received.some((e, i) => e.message !== `after ${i}`)) throw new Error('events out of order');

await agent.stop();
await node2.close();
console.log('stats:', JSON.stringify({ ...agent.stats(), buffer: undefined }));
