/**
 * The balance check of the Wazuh HAProxy helper (`framework/wazuh/core/cluster/hap_helper/`), as a
 * pure function over the current sessions per server, so tests and the simulator judge a
 * distribution the way the manager would.
 *
 * @module
 */

/**
 * Default `agent_tolerance` of the Wazuh HAProxy helper: a server may carry 10 % more or less than the mean.
 */
export const DEFAULT_AGENT_TOLERANCE = 0.1;

/** What {@link checkBalance} decided. */
export interface BalanceVerdict {
  /** Whether the helper would leave the distribution alone. */
  balanced: boolean;
  /** Total sessions. */
  total: number;
  /** `floor(total / servers)`. */
  mean: number;
  /** Agents the helper would ask to reconnect, per server above the mean (`sessions - mean`); empty when balanced. */
  excess: Record<string, number>;
}

/**
 * Decides, as the Wazuh HAProxy helper does, whether a distribution needs rebalancing:
 * `mean = floor(total / servers)`; balanced when `max <= mean * (1 + tolerance)` and
 * `min >= mean * (1 - tolerance)`, or when `max - min <= 1` and `total % servers != 0`. Otherwise
 * every server above the mean has `sessions - mean` excess agents, which the helper asks to
 * reconnect (`#!-force_reconnect`) so leastconn places them on the least loaded servers.
 *
 * @param sessions - current sessions per server (e.g. `HaproxyRuntimeApi.sessionsPerServer()`).
 * @param tolerance - `agent_tolerance`, a fraction.
 * @returns the verdict with the excess per server.
 * @example
 * ```ts
 * checkBalance({ node1: 150, node2: 50, node3: 100 }); // { balanced: false, mean: 100, excess: { node1: 50 }, total: 300 }
 * ```
 */
export function checkBalance(sessions: Readonly<Record<string, number>>, tolerance = DEFAULT_AGENT_TOLERANCE): BalanceVerdict {
  const entries = Object.entries(sessions);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  if (entries.length === 0) return { balanced: true, total: 0, mean: 0, excess: {} };
  const mean = Math.floor(total / entries.length);
  const counts = entries.map(([, n]) => n);
  const max = Math.max(...counts);
  const min = Math.min(...counts);
  const withinTolerance = max <= mean * (1 + tolerance) && min >= mean * (1 - tolerance);
  const offByOne = max - min <= 1 && total % entries.length !== 0;
  if (withinTolerance || offByOne) return { balanced: true, total, mean, excess: {} };
  const excess: Record<string, number> = {};
  for (const [name, n] of entries) if (n > mean) excess[name] = n - mean;
  return { balanced: false, total, mean, excess };
}
