/**
 * The manager requests an agent answers itself: `agent getconfig <section>` and `agent getstate`
 * (protocol.md 4.5).
 *
 * @module
 */
import type { ResolvedAgentClientOptions } from '../config/options.js';
import type { AgentCounters } from './stats.js';
import type { AgentState } from './types.js';

/** What a built-in answer reads from the agent. */
export interface BuiltInRequestView {
  /** The resolved options (the `getconfig` sections). */
  options: ResolvedAgentClientOptions;
  /** The connection state (the `getstate` status). */
  state: AgentState;
  /** The agent's counters (last keepalive and ACK, events accepted, messages sent). */
  stats: Pick<AgentCounters, 'lastKeepaliveAt' | 'lastAckAt' | 'eventsAccepted' | 'messagesOut'>;
  /** Events waiting in the client buffer. */
  bufferSize: number;
}

/** Wazuh's date format of `getstate` (`YYYY-MM-DD hh:mm:ss`, local time); empty for never. */
function formatWazuhDate(ms: number | undefined): string {
  if (ms === undefined) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Answers `agent getconfig <section>` and `agent getstate`.
 *
 * @param command - the command text after the `agent` target.
 * @param view - what the answer reads from the agent.
 * @returns the reply text, or undefined for any other command (the program's `request` listeners get it).
 */
export function answerBuiltInRequest(command: string, view: BuiltInRequestView): string | undefined {
  const [verb, section] = command.trim().split(/\s+/, 2);
  const o = view.options;
  if (verb === 'getconfig') {
    if (!section) return 'err AGCOM getconfig needs arguments';
    switch (section) {
      case 'client':
        return `ok ${JSON.stringify({
          client: {
            ...(o.configProfile ? { 'config-profile': o.configProfile } : {}),
            notify_time: Math.round(o.notifyTime / 1000),
            'time-reconnect': Math.round(o.timeReconnect / 1000),
            force_reconnect_interval: Math.round(o.forceReconnectInterval / 1000),
            ip_update_interval: Math.round(o.ipUpdateInterval / 1000),
            server: o.servers.map((s) => ({
              address: s.address,
              port: s.port,
              protocol: s.protocol,
              max_retries: s.maxRetries,
              retry_interval: Math.round(s.retryInterval / 1000),
            })),
            crypto_method: o.cryptoMethod,
            auto_restart: o.autoRestart ? 'yes' : 'no',
            remote_conf: 'yes',
          },
        })}`;
      case 'buffer':
        return `ok ${JSON.stringify({
          buffer: { disabled: o.buffer.disabled ? 'yes' : 'no', queue_size: o.buffer.queueSize, events_per_second: o.buffer.eventsPerSecond },
        })}`;
      case 'labels':
        return `ok ${JSON.stringify({ labels: o.labels.map((l) => ({ key: l.key, value: l.value, hidden: l.hidden ? 'yes' : 'no' })) })}`;
      case 'internal':
        return `ok ${JSON.stringify({
          internal: {
            agent: {
              recv_timeout: Math.round(o.handshakeTimeout / 1000),
              warn_level: 90,
              normal_level: 70,
              tolerance: Math.round(o.buffer.tolerance / 1000),
              min_eps: 50,
            },
          },
        })}`;
      case 'anti_tampering':
        return `ok ${JSON.stringify({ anti_tampering: { package_uninstallation: 'no' } })}`;
      default:
        return 'err Could not get requested section';
    }
  }
  if (verb === 'getstate') {
    const state = view.state;
    const status = state === 'connected' ? 'connected' : state === 'idle' || state === 'connecting' ? 'pending' : 'disconnected';
    return JSON.stringify({
      error: 0,
      data: {
        status,
        last_keepalive: formatWazuhDate(view.stats.lastKeepaliveAt),
        last_ack: formatWazuhDate(view.stats.lastAckAt),
        msg_count: view.stats.eventsAccepted,
        msg_sent: view.stats.messagesOut,
        msg_buffer: view.bufferSize,
        buffer_enabled: !o.buffer.disabled,
      },
    });
  }
  return undefined;
}
