/**
 * Entry point of the embedded cluster's child process (forked by `agentlink simulate` for large
 * fleets, so the cluster has an open-file limit of its own). It runs a MockCluster and answers the
 * parent's requests over IPC; it exits when the parent asks it to close or goes away.
 *
 * @module
 */
import type { AgentKey } from '../index.js';
import type { PathFault } from './chaos/runner.js';
import { serveParent } from './child.js';
import { startEmbeddedCluster } from './cluster-host.js';
import type { EmbeddedCluster } from './cluster-host.js';

let cluster: EmbeddedCluster | undefined;

async function shutdown(code: number): Promise<never> {
  const c = cluster;
  cluster = undefined;
  await c?.close().catch(() => undefined);
  process.exit(code);
}

serveParent(async (op, msg) => {
  switch (op) {
    case 'start': {
      cluster = await startEmbeddedCluster({
        nodes: msg.nodes as number,
        keys: msg.keys as AgentKey[],
        protocol: msg.protocol as 'tcp' | 'udp',
        authd: msg.authd === true,
        faultPaths: msg.faultPaths === true,
      });
      return { servers: cluster.servers, directServers: cluster.directServers, nodes: cluster.nodes, authdPort: cluster.authdPort };
    }
    case 'kill':
      return need().kill(msg.node as string);
    case 'restart':
      return need().restart(msg.node as string);
    case 'addNode': {
      const join = await need().addNode(msg.node as string);
      return { join, ...membership() };
    }
    case 'removeNode': {
      const leave = await need().removeNode(msg.node as string);
      return { leave, ...membership() };
    }
    case 'agentsOnNode':
      return need().agentsOnNode(msg.node as string, msg.limit as number);
    case 'reconnectAgents':
      return need().reconnectAgents(msg.node as string, msg.ids as string[]);
    case 'hang':
      return need().hang(msg.node as string, msg.on === true);
    case 'resetConnections':
      return need().resetConnections(msg.node as string);
    case 'pathFault':
      return need().pathFault(msg.node as string, msg.fault as PathFault);
    case 'forceReconnect':
      return need().forceReconnect(msg.agents as number[]);
    case 'faultPathStats':
      return need().faultPathStats();
    case 'rebalance':
      return need().rebalance(msg.options as { chunkSize?: number; chunkDelay?: number });
    case 'distribution':
      return need().distribution();
    case 'received':
      return need().received();
    case 'close':
      setImmediate(() => void shutdown(0));
      return undefined;
    default:
      throw new Error(`unknown cluster request '${op}'`);
  }
});

/** The lists a membership change alters, for the parent's copy. */
function membership(): { servers: EmbeddedCluster['servers']; directServers: EmbeddedCluster['directServers']; nodes: EmbeddedCluster['nodes'] } {
  const c = need();
  return { servers: c.servers, directServers: c.directServers, nodes: c.nodes };
}

function need(): EmbeddedCluster {
  if (!cluster) throw new Error('the cluster is not started');
  return cluster;
}

process.on('disconnect', () => void shutdown(0));
