/**
 * The agent's keepalive (notify) text from its options (protocol.md 4.2).
 *
 * @module
 */
import type { ResolvedAgentClientOptions } from '../config/options.js';
import { buildKeepalive } from '../protocol/messages.js';
import { formatUname } from '../protocol/uname.js';

/**
 * Builds the keepalive text an agent sends every `notifyTime`.
 *
 * @param o - the resolved options (uname, version, labels, configuration checksum).
 * @param mergedSum - MD5 of the last `merged.mg`, or undefined (then `x`, as a fresh Wazuh agent).
 * @param agentIp - the local address reported as `_agent_ip`, when known.
 * @returns the plaintext.
 */
export function agentKeepaliveText(o: ResolvedAgentClientOptions, mergedSum: string | undefined, agentIp: string | undefined): string {
  const uname = typeof o.uname === 'string' ? `${o.uname} - Wazuh ${o.version}` : formatUname(o.uname, o.version);
  return buildKeepalive({
    uname,
    ...(o.agentConfigSum ? { agentConfigSum: o.agentConfigSum } : {}),
    labels: o.labels.map((l) => ({ key: l.key, value: l.value, hidden: l.hidden === true })),
    mergedSum: mergedSum ?? 'x',
    ...(agentIp ? { agentIp } : {}),
  });
}
