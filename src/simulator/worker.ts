/**
 * Entry point of a fleet worker process (`agentlink simulate --workers N`). The parent sends the
 * worker's part of the fleet; the worker runs it as a {@link Fleet} in its own event loop, reports
 * gauges once per timeline bucket and system limits as they happen, and at the end sends its totals
 * and its metrics snapshot, which the parent merges exactly.
 *
 * Messages, parent to worker: `{ id, op: 'init', spec }`, `{ id, op: 'start', runStartedAt }`,
 * `{ id, op: 'stop', drainTimeout, eventsUntil }`. Worker to parent: replies, plus one-way
 * `{ type: 'sample', progress }` and `{ type: 'limit', hit }`.
 *
 * @module
 */
import type { Stage } from './stages.js';
import { serveParent } from './child.js';
import { Fleet } from './fleet.js';
import type { FleetClientOptions, FleetServer } from './fleet-types.js';
import { simulatedIdentity } from './identities.js';
import { FleetMetrics } from './metrics.js';
import type { AgentIdentityOptions } from '../index.js';

/** What a worker runs: a serialisable description of its part of the fleet. */
export interface WorkerSpec {
  /** Global agent indexes of this worker. */
  indexes: number[];
  /** Where identities come from: generated from the seed, given, or enrollment. */
  identities:
    | {
        /** Generated from the run seed. */
        kind: 'generated';
        /** The run seed. */
        seed: string;
      }
    | {
        /** Given, one per index. */
        kind: 'list';
        /** The identities (undefined entries enroll). */
        list: (AgentIdentityOptions | undefined)[];
      }
    | {
        /** Every agent enrolls. */
        kind: 'enroll';
      };
  /** The ordered server list. */
  servers: FleetServer[];
  /** Rotate server lists by index. */
  spread: boolean;
  /** Shared client options (structured-clone serialisable: no functions, no logger). */
  client: FleetClientOptions;
  /** Agents per second. */
  rampPerSecond: number;
  /** Events per second per agent. */
  eps: number;
  /** Load stages, if any. */
  stages?: Stage[];
  /** End of the event schedule (see `FleetOptions.eventsUntil`). */
  eventsUntil?: number;
  /** Workload spec. */
  workload: string;
  /** Workload directory for relative file paths. */
  cwd: string;
  /** Seed. */
  seed: string;
  /** Source addresses to spread over. */
  sourceAddresses: number;
  /** The servers are load balancers (see `FleetOptions.balanced`). */
  balanced: boolean;
  /** Timeline bucket width. */
  bucketMs: number;
}

let fleet: Fleet | undefined;

serveParent(async (op, msg) => {
  switch (op) {
    case 'init': {
      const spec = msg.spec as WorkerSpec;
      if (spec.cwd) process.chdir(spec.cwd);
      const ids = spec.identities;
      const identities =
        ids.kind === 'generated' ? spec.indexes.map((i) => simulatedIdentity(i, ids.seed)) : ids.kind === 'list' ? ids.list : undefined;
      fleet = new Fleet({
        indexes: spec.indexes,
        ...(identities ? { identities } : {}),
        servers: spec.servers,
        spread: spec.spread,
        client: spec.client,
        rampPerSecond: spec.rampPerSecond,
        eps: spec.eps,
        ...(spec.stages ? { stages: spec.stages } : {}),
        ...(spec.eventsUntil !== undefined ? { eventsUntil: spec.eventsUntil } : {}),
        workload: spec.workload,
        seed: spec.seed,
        sourceAddresses: spec.sourceAddresses,
        balanced: spec.balanced,
        metrics: new FleetMetrics({ bucketMs: spec.bucketMs }),
      });
      fleet.on('sample', (_point, progress) => process.send?.({ type: 'sample', progress }));
      fleet.on('limit', (hit) => process.send?.({ type: 'limit', hit }));
      return undefined;
    }
    case 'start': {
      const f = need();
      // the run start is the parent's: ramp, workload and timeline share its time axis
      f.start(msg.runStartedAt as number);
      return undefined;
    }
    case 'progress':
      return need().progress({ latency: true });
    case 'stop': {
      const f = need();
      const totals = await f.stop({ drainTimeout: msg.drainTimeout as number, eventsUntil: msg.eventsUntil as number });
      return { totals, snapshot: f.metrics.snapshot() };
    }
    case 'exit':
      setImmediate(() => process.exit(0));
      return undefined;
    default:
      throw new Error(`unknown worker request '${op}'`);
  }
});

function need(): Fleet {
  if (!fleet) throw new Error('the worker has no fleet yet (init first)');
  return fleet;
}

process.on('disconnect', () => {
  // the parent is gone: stop the agents quickly and leave
  void (fleet?.stop({ drainTimeout: 0 }) ?? Promise.resolve()).finally(() => process.exit(0));
});
