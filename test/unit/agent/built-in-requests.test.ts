/**
 * The `getconfig` answers have wazuh-agentd 4.14.7's shape. The expected strings below are what
 * the real agentd answered (test/e2e/real-agent/commands.test.ts asks both side by side) for the
 * same settings, with its OpenSSL cipher list replaced by Node's.
 */
import { DEFAULT_CIPHERS } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { getconfigSection } from '../../../src/agent/built-in-requests.js';
import { resolveOptions } from '../../../src/config/resolve.js';

const KEY = { id: '001', name: 'agent1', key: '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef' };

describe("getconfig answers in wazuh-agentd's shape", () => {
  const options = resolveOptions({
    agent: KEY,
    servers: [{ address: '127.0.0.1', port: 43757, maxRetries: 3, retryInterval: 2000 }],
    notifyTime: 2000,
    timeReconnect: 12_000,
    handshakeTimeout: 5000,
    configProfile: 'debian, debian12',
    autoRestart: false,
    enrollment: { enabled: false, managerAddress: '127.0.0.1', agentName: 'same-name', groups: ['web', 'db'] },
  });

  it('client: the keys in agentd\'s order, servers with protocol last, and the enrollment block', () => {
    expect(JSON.stringify(getconfigSection('client', options))).toBe(
      '{"client":{"config-profile":"debian, debian12","notify_time":2,"time-reconnect":12,"force_reconnect_interval":0,"ip_update_interval":0,' +
        '"auto_restart":"no","remote_conf":"yes","crypto_method":"aes","server":[{"address":"127.0.0.1","port":43757,"max_retries":3,"retry_interval":2,"protocol":"tcp"}],' +
        `"enrollment":{"enabled":"no","delay_after_enrollment":20,"manager_address":"127.0.0.1","port":1515,"agent_name":"same-name","group":"web,db","ssl_cipher":${JSON.stringify(DEFAULT_CIPHERS)},"auto_method":"no"}}}`,
    );
  });

  it('client: manager_address and group are left out when not set, as agentd does', () => {
    const plain = resolveOptions({ agent: KEY, servers: [{ address: 'manager' }], enrollment: { agentName: 'web-01' } });
    expect((getconfigSection('client', plain) as { client: { enrollment: object } }).client.enrollment).toEqual({
      enabled: 'no', // an agent given a key does not enroll unless told to
      delay_after_enrollment: 20,
      port: 1515,
      agent_name: 'web-01',
      ssl_cipher: DEFAULT_CIPHERS,
      auto_method: 'no',
    });
  });

  it('internal: agent (8 fields), monitord and remoted sections', () => {
    expect(JSON.stringify(getconfigSection('internal', options))).toBe(
      '{"internal":{"agent":{"debug":0,"warn_level":90,"normal_level":70,"tolerance":15,"recv_timeout":5,"state_interval":5,"min_eps":50,"remote_conf":1},' +
        '"monitord":{"rotate_log":1,"compress":1,"keep_log_days":31,"day_wait":10,"size_rotate":512,"daily_rotations":12},' +
        '"remoted":{"request_pool":1024,"request_rto_sec":1,"request_rto_msec":0,"max_attempts":4,"comp_average_printout":19999,"recv_counter_flush":128,"verify_msg_id":0}}}',
    );
  });

  it('anti_tampering: no wrapper object, the value in an array', () => {
    expect(JSON.stringify(getconfigSection('anti_tampering', options))).toBe('{"package_uninstallation":["no"]}');
  });

  it('an unknown section: undefined (answered "err Could not get requested section")', () => {
    expect(getconfigSection('nosuch', options)).toBeUndefined();
  });
});
