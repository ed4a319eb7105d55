/**
 * The manager requests an agent answers itself: `agent getconfig <section>` and `agent getstate`
 * (protocol.md 4.5).
 *
 * @module
 */
import type { ResolvedAgentClientOptions } from '../config/options.js';
import { DEFAULT_BUFFER_NORMAL_LEVEL, DEFAULT_BUFFER_WARN_LEVEL, MIN_EVENTS_PER_SECOND } from '../config/options.js';
import { enrollmentCiphers } from '../enrollment/client.js';
import { UDP_REQUEST_ATTEMPTS, UDP_REQUEST_RTO } from './manager-commands.js';
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

const seconds = (ms: number): number => Math.round(ms / 1000);

/**
 * One `getconfig` section in the shape wazuh-agentd 4.14.7 gives it (`client-agent/config.c`:
 * the same keys, in the same order, with the same types). Where agentlink has no such setting,
 * the value is what an agent with Wazuh's default internal options reports.
 *
 * @param section - `client`, `buffer`, `labels`, `internal` or `anti_tampering`.
 * @param o - the agent's resolved options.
 * @returns the JSON value, or undefined for an unknown section.
 */
export function getconfigSection(section: string, o: ResolvedAgentClientOptions): object | undefined {
  switch (section) {
    case 'client': {
      const e = o.enrollment;
      return {
        client: {
          ...(o.configProfile ? { 'config-profile': o.configProfile } : {}),
          notify_time: seconds(o.notifyTime),
          'time-reconnect': seconds(o.timeReconnect),
          force_reconnect_interval: seconds(o.forceReconnectInterval),
          ip_update_interval: seconds(o.ipUpdateInterval),
          auto_restart: o.autoRestart ? 'yes' : 'no',
          remote_conf: 'yes',
          crypto_method: o.cryptoMethod,
          server: o.servers.map((s) => ({
            address: s.address,
            port: s.port,
            max_retries: s.maxRetries,
            retry_interval: seconds(s.retryInterval),
            protocol: s.protocol,
          })),
          // certificates are given as PEM, not paths: agentd's *_path keys are left out, as it does when unset
          enrollment: {
            enabled: e.enabled ? 'yes' : 'no',
            delay_after_enrollment: seconds(e.delayAfterEnrollment),
            ...(e.managerAddress !== undefined ? { manager_address: e.managerAddress } : {}),
            port: e.port,
            agent_name: e.agentName,
            ...(e.groups.length > 0 ? { group: e.groups.join(',') } : {}),
            ssl_cipher: enrollmentCiphers(),
            auto_method: 'no',
          },
        },
      };
    }
    case 'buffer':
      return { buffer: { disabled: o.buffer.disabled ? 'yes' : 'no', queue_size: o.buffer.queueSize, events_per_second: o.buffer.eventsPerSecond } };
    case 'labels':
      return { labels: o.labels.map((l) => ({ value: l.value, key: l.key, hidden: l.hidden ? 'yes' : 'no' })) };
    case 'internal':
      return {
        internal: {
          agent: {
            debug: 0,
            warn_level: DEFAULT_BUFFER_WARN_LEVEL,
            normal_level: DEFAULT_BUFFER_NORMAL_LEVEL,
            tolerance: seconds(o.buffer.tolerance),
            recv_timeout: seconds(o.handshakeTimeout),
            state_interval: 5,
            min_eps: MIN_EVENTS_PER_SECOND,
            remote_conf: 1,
          },
          monitord: { rotate_log: 1, compress: 1, keep_log_days: 31, day_wait: 10, size_rotate: 512, daily_rotations: 12 },
          // request_rto and max_attempts are the UDP request-reply retransmissions agentlink uses too;
          // verify_msg_id 0: agents do not check the manager's counters
          remoted: {
            request_pool: 1024,
            request_rto_sec: Math.floor(UDP_REQUEST_RTO / 1000),
            request_rto_msec: UDP_REQUEST_RTO % 1000,
            max_attempts: UDP_REQUEST_ATTEMPTS,
            comp_average_printout: 19999,
            recv_counter_flush: 128,
            verify_msg_id: 0,
          },
        },
      };
    case 'anti_tampering':
      // agentd adds the string to an array (cJSON_AddStringToObject on a cJSON array): no wrapper key
      return { package_uninstallation: ['no'] };
    default:
      return undefined;
  }
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
    const json = getconfigSection(section, view.options);
    return json === undefined ? 'err Could not get requested section' : `ok ${JSON.stringify(json)}`;
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
