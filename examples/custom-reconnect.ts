/**
 * A custom reconnect policy: prefer the first (primary) server, fall back to the others, and give
 * up after 20 failed attempts. The policy is a pure function of the attempt context.
 *
 * Run: node dist/examples/custom-reconnect.js
 */
import { AgentClient } from 'agentlink';
import type { ReconnectContext } from 'agentlink';
import { MockManager } from 'agentlink/testing';

const key = { id: '002', name: 'policy-agent', ip: 'any', key: 'b'.repeat(64) };
const backup = new MockManager({ keys: [key], name: 'backup' });
await backup.start();

function preferPrimary(ctx: ReconnectContext) {
  if (ctx.attempt > 20) return false; // give up: the client closes with ERR_RECONNECT_GAVE_UP
  // every third attempt goes back to the primary; the others walk the backups
  const server = ctx.attempt % 3 === 0 ? 0 : 1 + (ctx.attempt % (ctx.servers.length - 1));
  return { server, delay: Math.min(100 * ctx.attempt, 1000) };
}

const agent = new AgentClient({
  agent: key,
  servers: [
    { address: '127.0.0.1', port: 9 }, // the primary is down (nothing listens on port 9 here)
    { address: '127.0.0.1', port: backup.port },
  ],
  reconnect: preferPrimary,
  connectTimeout: 500,
});
agent.on('reconnectScheduled', ({ server, delay, attempt }) => console.log(`attempt ${attempt}: ${server.address}:${server.port} in ${delay} ms`));
agent.on('error', (err) => console.log(`  failed: ${err.code}`));
await agent.start();
console.log(`connected to ${agent.server!.address}:${agent.server!.port}`);
await agent.stop();
await backup.close();
