/**
 * A long-running agent, as a service runs one: it starts whether or not a manager answers, keeps
 * the process alive while it retries, ships a heartbeat line every second (queued while no manager
 * answers, delivered in order once one does) and stops cleanly on SIGTERM or SIGINT: what is queued
 * is delivered, then the shutdown message, and the process exits by itself.
 *
 * Run (servers in failover order):
 *   WAZUH_MANAGER=10.0.0.5,10.0.0.6:1514 WAZUH_AGENT='001 web01 any <key>' node dist/examples/agent-service.js
 */
import { AgentClient, parseClientKeys } from 'agentlink';

const [key] = parseClientKeys(`${process.env.WAZUH_AGENT ?? ''}\n`);
if (!key) throw new Error('WAZUH_AGENT must be a client.keys line: <id> <name> <ip> <key>');
// host, host:port or [ipv6]:port, comma-separated
const servers = (process.env.WAZUH_MANAGER ?? '127.0.0.1').split(',').map((entry) => {
  const m = /^\[(.+)\]:(\d+)$/.exec(entry.trim()) ?? /^([^:]+):(\d+)$/.exec(entry.trim());
  return m ? { address: m[1]!, port: Number(m[2]) } : { address: entry.trim() };
});

const agent = new AgentClient({ agent: key, servers });
agent.on('reconnectScheduled', ({ server, delay }) => console.log(`no manager at ${server.address}:${server.port}; next attempt in ${delay} ms`));
agent.on('connected', ({ server }) => console.log(`connected to ${server.address}:${server.port}`));
agent.on('disconnected', ({ reason }) => console.log(`disconnected: ${reason.code}`));

// The agent keeps the process alive from start() to stop(), as a socket does; this timer need not.
let beat = 0;
const heartbeat = setInterval(() => agent.send(`heartbeat ${beat++}`, 'agent-service'), 1000).unref();

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal}: stopping`);
  clearInterval(heartbeat);
  await agent.stop(); // delivers what is queued (within drainTimeout), then sends the shutdown message
  const s = agent.stats();
  console.log(`stopped: ${s.eventsSent} events sent, ${s.buffer.droppedByReason.cleared} left unsent`);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

agent.start().catch((err: Error) => console.error(`agent stopped before connecting: ${err.message}`));
