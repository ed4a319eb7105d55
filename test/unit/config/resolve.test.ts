import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import {
  DEFAULT_AGENT_VERSION,
  DEFAULT_BACKOFF_JITTER,
  DEFAULT_BUFFER_TOLERANCE,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_DELAY_AFTER_ENROLLMENT,
  DEFAULT_ENROLLMENT_PORT,
  DEFAULT_EVENTS_PER_SECOND,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_RETRIES,
  DEFAULT_NOTIFY_TIME,
  DEFAULT_PORT,
  DEFAULT_QUEUE_SIZE,
  DEFAULT_RETRY_INTERVAL,
  DEFAULT_TIME_RECONNECT,
  MIN_EVENTS_PER_SECOND,
  resolveOptions,
  type AgentClientOptions,
  type ReconnectPolicyFunction,
} from '../../../src/index.js';
import { expectConfigError } from './helpers.js';

const KEY = 'a'.repeat(64);
const agent = { id: '001', name: 'agent1', key: KEY };
const base = (extra: Partial<AgentClientOptions> = {}): AgentClientOptions => ({
  servers: [{ address: 'manager.example' }],
  agent,
  ...extra,
});
/** Calls resolveOptions with deliberately ill-typed input. */
const resolveAny = (o: unknown) => resolveOptions(o as AgentClientOptions);

describe('resolveOptions defaults', () => {
  it('fills every option with the documented default', () => {
    const r = resolveOptions(base());
    expect(r.agent).toEqual({ ...agent, ip: 'any' });
    expect(r.servers).toEqual([
      { address: 'manager.example', port: DEFAULT_PORT, protocol: 'tcp', maxRetries: DEFAULT_MAX_RETRIES, retryInterval: DEFAULT_RETRY_INTERVAL },
    ]);
    expect(r.notifyTime).toBe(DEFAULT_NOTIFY_TIME);
    expect(r.timeReconnect).toBe(DEFAULT_TIME_RECONNECT);
    expect(r.handshakeTimeout).toBe(DEFAULT_HANDSHAKE_TIMEOUT);
    expect(r.connectTimeout).toBe(DEFAULT_CONNECT_TIMEOUT);
    expect(r.cryptoMethod).toBe('aes');
    expect(r.compressionLevel).toBe(9);
    expect(r.reconnect).toEqual({ strategy: 'wazuh', jitter: 0 });
    expect(r.forceReconnectInterval).toBe(0);
    expect(r.ipUpdateInterval).toBe(0);
    expect(r.buffer).toEqual({
      disabled: false,
      queueSize: DEFAULT_QUEUE_SIZE,
      eventsPerSecond: DEFAULT_EVENTS_PER_SECOND,
      overflow: 'drop-newest',
      tolerance: DEFAULT_BUFFER_TOLERANCE,
    });
    expect(r.enrollment.enabled).toBe(false);
    expect(r.enrollment.port).toBe(DEFAULT_ENROLLMENT_PORT);
    expect(r.enrollment.delayAfterEnrollment).toBe(DEFAULT_DELAY_AFTER_ENROLLMENT);
    expect(r.enrollment.timeout).toBe(DEFAULT_HANDSHAKE_TIMEOUT);
    expect(r.enrollment.groups).toEqual([]);
    expect(r.labels).toEqual([]);
    expect(r.version).toBe(DEFAULT_AGENT_VERSION);
    expect(r.autoRestart).toBe(true);
    expect(r.agentConfigSum).toBeUndefined();
    expect(r.counterStore).toBeUndefined();
    expect(r.logger).toBeUndefined();
    expect(r.signal).toBeUndefined();
    expect(r.localAddress).toBeUndefined();
    expect(r.configProfile).toBeUndefined();
  });

  it('describes this host in the default uname', () => {
    const r = resolveOptions(base());
    expect(typeof r.uname).toBe('object');
    expect(r.uname).toMatchObject({ nodename: hostname() });
  });

  it('treats explicitly undefined options as unset', () => {
    const r = resolveOptions(base({ notifyTime: undefined, buffer: { queueSize: undefined } }));
    expect(r.notifyTime).toBe(DEFAULT_NOTIFY_TIME);
    expect(r.buffer.queueSize).toBe(DEFAULT_QUEUE_SIZE);
  });

  it('does not modify the options it is given', () => {
    const opts = base({ labels: { env: 'prod' } });
    const copy = structuredClone(opts);
    resolveOptions(opts);
    expect(opts).toEqual(copy);
  });

  it('keeps the server order and per-server values', () => {
    const r = resolveOptions(
      base({
        servers: [
          { address: '10.0.0.1', port: 1515, protocol: 'udp', maxRetries: 2, retryInterval: 500 },
          { address: 'fe80::1%eth0' },
          { address: '2001:db8::1' },
        ],
      }),
    );
    expect(r.servers.map((s) => s.address)).toEqual(['10.0.0.1', 'fe80::1%eth0', '2001:db8::1']);
    expect(r.servers[0]).toEqual({ address: '10.0.0.1', port: 1515, protocol: 'udp', maxRetries: 2, retryInterval: 500 });
  });
});

describe('resolveOptions time rules', () => {
  it('uses the default keepalive period when notifyTime is 0', () => {
    expect(resolveOptions(base({ notifyTime: 0 })).notifyTime).toBe(DEFAULT_NOTIFY_TIME);
  });

  it('uses 60 s when timeReconnect is 0', () => {
    expect(resolveOptions(base({ timeReconnect: 0 })).timeReconnect).toBe(60_000);
  });

  it('raises timeReconnect to 3 × notifyTime when it is not above notifyTime', () => {
    expect(resolveOptions(base({ notifyTime: 30_000, timeReconnect: 30_000 })).timeReconnect).toBe(90_000);
    expect(resolveOptions(base({ notifyTime: 30_000, timeReconnect: 10_000 })).timeReconnect).toBe(90_000);
    // 0 becomes 60 s first, then the rule applies (notify 60 s → 180 s)
    expect(resolveOptions(base({ notifyTime: 60_000, timeReconnect: 0 })).timeReconnect).toBe(180_000);
  });

  it('keeps timeReconnect when it is above notifyTime', () => {
    expect(resolveOptions(base({ notifyTime: 10_000, timeReconnect: 10_001 })).timeReconnect).toBe(10_001);
  });
});

describe('resolveOptions buffer', () => {
  it('raises eventsPerSecond below 50 to 50', () => {
    expect(resolveOptions(base({ buffer: { eventsPerSecond: 1 } })).buffer.eventsPerSecond).toBe(MIN_EVENTS_PER_SECOND);
    expect(resolveOptions(base({ buffer: { eventsPerSecond: 49 } })).buffer.eventsPerSecond).toBe(50);
    expect(resolveOptions(base({ buffer: { eventsPerSecond: 51 } })).buffer.eventsPerSecond).toBe(51);
    expect(resolveOptions(base({ buffer: { eventsPerSecond: 1000 } })).buffer.eventsPerSecond).toBe(1000);
  });

  it('accepts every overflow policy', () => {
    for (const overflow of ['drop-newest', 'drop-oldest', 'reject'] as const) {
      expect(resolveOptions(base({ buffer: { overflow } })).buffer.overflow).toBe(overflow);
    }
  });
});

describe('resolveOptions reconnect', () => {
  it('fills backoff defaults', () => {
    expect(resolveOptions(base({ reconnect: { strategy: 'backoff' } })).reconnect).toEqual({
      strategy: 'backoff',
      initialDelay: 1000,
      maxDelay: 60_000,
      factor: 2,
      jitter: DEFAULT_BACKOFF_JITTER,
      maxAttempts: 0,
    });
  });

  it('raises the default maxDelay to a larger initialDelay', () => {
    const r = resolveOptions(base({ reconnect: { strategy: 'backoff', initialDelay: 120_000 } })).reconnect;
    expect(r).toMatchObject({ initialDelay: 120_000, maxDelay: 120_000 });
  });

  it('wraps a policy function as the custom strategy', () => {
    const policy: ReconnectPolicyFunction = () => ({ delay: 5 });
    expect(resolveOptions(base({ reconnect: policy })).reconnect).toEqual({ strategy: 'custom', policy });
  });

  it('keeps the wazuh jitter', () => {
    expect(resolveOptions(base({ reconnect: { strategy: 'wazuh', jitter: 0.25 } })).reconnect).toEqual({ strategy: 'wazuh', jitter: 0.25 });
  });
});

describe('resolveOptions identity', () => {
  const keysText = `# comment\n002 web01 any ${KEY}\n003 web02 any ${KEY}\n`;

  it('uses the first client.keys entry', () => {
    const r = resolveOptions({ servers: [{ address: 'm' }], keys: keysText });
    expect(r.agent).toEqual({ id: '002', name: 'web01', ip: 'any', key: KEY });
    expect(r.enrollment.enabled).toBe(false);
  });

  it('enables enrollment by default when no key is given', () => {
    const r = resolveOptions({ servers: [{ address: 'm' }], enrollment: { agentName: 'new-agent' } });
    expect(r.agent).toBeUndefined();
    expect(r.enrollment.enabled).toBe(true);
    expect(r.enrollment.agentName).toBe('new-agent');
  });

  it('treats empty client.keys text as no key', () => {
    const r = resolveOptions({ servers: [{ address: 'm' }], keys: '\n', enrollment: { agentName: 'x1' } });
    expect(r.agent).toBeUndefined();
    expect(r.enrollment.enabled).toBe(true);
  });

  it('keeps enrollment on with a key when it is asked for', () => {
    expect(resolveOptions(base({ enrollment: { enabled: true, agentName: 'agent1' } })).enrollment.enabled).toBe(true);
  });

  it('keeps the key ip of an agent identity', () => {
    expect(resolveOptions(base({ agent: { ...agent, ip: '10.0.0.0/8' } })).agent?.ip).toBe('10.0.0.0/8');
  });

  it('refuses client.keys text with any bad line, even after a valid first entry (not "the first valid entry is used")', () => {
    for (const bad of [`abc web02 any ${KEY}`, `003 web02 notanip ${KEY}`, `002 web02 any ${KEY}`]) {
      expectConfigError(() => resolveOptions({ servers: [{ address: 'm' }], keys: `002 web01 any ${KEY}\n${bad}\n` }), 'client.keys:2', {
        code: 'ERR_CONFIG_KEYS',
      });
    }
  });

  it('reports bad client.keys text with ERR_CONFIG_KEYS', () => {
    expectConfigError(() => resolveOptions({ servers: [{ address: 'm' }], keys: `abc web01 any ${KEY}\n` }), /client\.keys/, {
      code: 'ERR_CONFIG_KEYS',
    });
  });
});

describe('resolveOptions enrollment', () => {
  it('resolves every enrollment field', () => {
    const r = resolveOptions({
      servers: [{ address: 'm' }],
      enrollment: {
        managerAddress: 'authd.example',
        port: 1516,
        agentName: 'web-01.prod',
        groups: ['default', 'web_servers', 'a.b-c'],
        agentAddress: 'src',
        password: 'secret',
        ca: '-----BEGIN CERTIFICATE-----',
        cert: Buffer.from('cert'),
        key: 'k-pem',
        delayAfterEnrollment: 0,
        timeout: 5000,
      },
    });
    expect(r.enrollment).toEqual({
      enabled: true,
      managerAddress: 'authd.example',
      port: 1516,
      agentName: 'web-01.prod',
      groups: ['default', 'web_servers', 'a.b-c'],
      agentAddress: 'src',
      password: 'secret',
      ca: '-----BEGIN CERTIFICATE-----',
      cert: Buffer.from('cert'),
      key: 'k-pem',
      delayAfterEnrollment: 0,
      timeout: 5000,
    });
  });

  it('accepts an IP or CIDR agent address', () => {
    for (const agentAddress of ['192.168.1.10', '10.0.0.0/8', '10.0.0.0/255.0.0.0', '2001:db8::5', '2001:db8::/64']) {
      expect(resolveOptions(base({ enrollment: { agentAddress } })).enrollment.agentAddress).toBe(agentAddress);
    }
  });

  it('accepts 128 groups and refuses 129', () => {
    const groups = Array.from({ length: 128 }, (_, i) => `g${i}`);
    expect(resolveOptions(base({ enrollment: { groups } })).enrollment.groups).toHaveLength(128);
    expectConfigError(() => resolveOptions(base({ enrollment: { groups: [...groups, 'x'] } })), 'enrollment.groups', { value: 129 });
  });
});

describe('resolveOptions labels and host fields', () => {
  it('turns a record of labels into visible labels in order', () => {
    expect(resolveOptions(base({ labels: { env: 'prod', 'aws.zone': 'eu-1' } })).labels).toEqual([
      { key: 'env', value: 'prod', hidden: false },
      { key: 'aws.zone', value: 'eu-1', hidden: false },
    ]);
  });

  it('keeps hidden labels from an array', () => {
    expect(resolveOptions(base({ labels: [{ key: 'k', value: 'v', hidden: true }, { key: 'e', value: '' }] })).labels).toEqual([
      { key: 'k', value: 'v', hidden: true },
      { key: 'e', value: '', hidden: false },
    ]);
  });

  it('keeps a uname string or object as given', () => {
    expect(resolveOptions(base({ uname: 'Linux |h |5 |#1 |x86_64' })).uname).toBe('Linux |h |5 |#1 |x86_64');
    const u = { sysname: 'Linux', nodename: 'h', release: '5', version: '#1', machine: 'x86_64', osName: 'Ubuntu' };
    expect(resolveOptions(base({ uname: u })).uname).toEqual(u);
  });

  it('passes signal, logger, counter store and local address through', () => {
    const signal = new AbortController().signal;
    const noop = () => undefined;
    const logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => logger };
    const counterStore = { load: async () => ({ global: 0, local: 0 }), save: async () => undefined };
    const r = resolveOptions(base({ signal, logger, counterStore, localAddress: '127.0.0.2', agentConfigSum: 'ab73af41699f13fdd81903b5f23d8d00' }));
    expect(r.signal).toBe(signal);
    expect(r.logger).toBe(logger);
    expect(r.counterStore).toBe(counterStore);
    expect(r.localAddress).toBe('127.0.0.2');
    expect(r.agentConfigSum).toBe('ab73af41699f13fdd81903b5f23d8d00');
  });
});

describe('resolveOptions validation errors name the option and the value', () => {
  const cases: Array<[string, () => unknown, string, unknown]> = [
    ['no servers', () => resolveOptions(base({ servers: [] })), 'servers', '[redacted]'],
    ['servers not an array', () => resolveAny({ ...base(), servers: 'm' }), 'servers', 'm'],
    ['server not an object', () => resolveOptions(base({ servers: [{ address: 'a' }, 'b' as never] })), 'servers[1]', 'b'],
    ['empty address', () => resolveOptions(base({ servers: [{ address: '' }] })), 'servers[0].address', ''],
    ['MANAGER_IP address', () => resolveOptions(base({ servers: [{ address: 'a' }, { address: 'MANAGER_IP' }] })), 'servers[1].address', 'MANAGER_IP'],
    ['0.0.0.0 address', () => resolveOptions(base({ servers: [{ address: '0.0.0.0' }] })), 'servers[0].address', '0.0.0.0'],
    ['address with a blank', () => resolveOptions(base({ servers: [{ address: 'a b' }] })), 'servers[0].address', 'a b'],
    ['address with a slash', () => resolveOptions(base({ servers: [{ address: '10.0.0.1/24' }] })), 'servers[0].address', '10.0.0.1/24'],
    ['port 0', () => resolveOptions(base({ servers: [{ address: 'a' }, { address: 'b', port: 0 }] })), 'servers[1].port', 0],
    ['port 65536', () => resolveOptions(base({ servers: [{ address: 'a', port: 65536 }] })), 'servers[0].port', 65536],
    ['port 1514.5', () => resolveOptions(base({ servers: [{ address: 'a', port: 1514.5 }] })), 'servers[0].port', 1514.5],
    ['port as text', () => resolveAny({ ...base(), servers: [{ address: 'a', port: '1514' }] }), 'servers[0].port', '1514'],
    ['protocol', () => resolveAny({ ...base(), servers: [{ address: 'a', protocol: 'TCP' }] }), 'servers[0].protocol', 'TCP'],
    ['maxRetries 0', () => resolveOptions(base({ servers: [{ address: 'a', maxRetries: 0 }] })), 'servers[0].maxRetries', 0],
    ['maxRetries 1.5', () => resolveOptions(base({ servers: [{ address: 'a', maxRetries: 1.5 }] })), 'servers[0].maxRetries', 1.5],
    ['retryInterval 0', () => resolveOptions(base({ servers: [{ address: 'a', retryInterval: 0 }] })), 'servers[0].retryInterval', 0],
    ['retryInterval NaN', () => resolveOptions(base({ servers: [{ address: 'a', retryInterval: NaN }] })), 'servers[0].retryInterval', NaN],
    ['unknown server key', () => resolveAny({ ...base(), servers: [{ address: 'a', prot: 'tcp' }] }), 'servers[0].prot', 'tcp'],
    ['notifyTime negative', () => resolveOptions(base({ notifyTime: -1 })), 'notifyTime', -1],
    ['notifyTime too large', () => resolveOptions(base({ notifyTime: 2 ** 31 })), 'notifyTime', 2 ** 31],
    ['timeReconnect negative', () => resolveOptions(base({ timeReconnect: -5 })), 'timeReconnect', -5],
    ['timeReconnect Infinity', () => resolveOptions(base({ timeReconnect: Infinity })), 'timeReconnect', Infinity],
    ['handshakeTimeout 999', () => resolveOptions(base({ handshakeTimeout: 999 })), 'handshakeTimeout', 999],
    ['handshakeTimeout 600001', () => resolveOptions(base({ handshakeTimeout: 600_001 })), 'handshakeTimeout', 600_001],
    ['connectTimeout negative', () => resolveOptions(base({ connectTimeout: -1 })), 'connectTimeout', -1],
    ['cryptoMethod', () => resolveAny({ ...base(), cryptoMethod: 'des' }), 'cryptoMethod', 'des'],
    ['compressionLevel 10', () => resolveOptions(base({ compressionLevel: 10 })), 'compressionLevel', 10],
    ['compressionLevel -1', () => resolveOptions(base({ compressionLevel: -1 })), 'compressionLevel', -1],
    ['compressionLevel 4.5', () => resolveOptions(base({ compressionLevel: 4.5 })), 'compressionLevel', 4.5],
    ['compressionLevel string', () => resolveAny({ ...base(), compressionLevel: '0' }), 'compressionLevel', '0'],
    ['forceReconnectInterval', () => resolveOptions(base({ forceReconnectInterval: -1 })), 'forceReconnectInterval', -1],
    ['ipUpdateInterval', () => resolveOptions(base({ ipUpdateInterval: -1 })), 'ipUpdateInterval', -1],
    ['reconnect strategy', () => resolveAny({ ...base(), reconnect: { strategy: 'linear' } }), 'reconnect.strategy', 'linear'],
    ['reconnect not an object', () => resolveAny({ ...base(), reconnect: 'wazuh' }), 'reconnect', 'wazuh'],
    ['wazuh jitter 1.5', () => resolveOptions(base({ reconnect: { strategy: 'wazuh', jitter: 1.5 } })), 'reconnect.jitter', 1.5],
    ['backoff jitter -0.1', () => resolveOptions(base({ reconnect: { strategy: 'backoff', jitter: -0.1 } })), 'reconnect.jitter', -0.1],
    ['backoff key on wazuh', () => resolveAny({ ...base(), reconnect: { strategy: 'wazuh', factor: 2 } }), 'reconnect.factor', 2],
    ['initialDelay negative', () => resolveOptions(base({ reconnect: { strategy: 'backoff', initialDelay: -1 } })), 'reconnect.initialDelay', -1],
    [
      'maxDelay below initialDelay',
      () => resolveOptions(base({ reconnect: { strategy: 'backoff', initialDelay: 5000, maxDelay: 4000 } })),
      'reconnect.maxDelay',
      4000,
    ],
    ['factor below 1', () => resolveOptions(base({ reconnect: { strategy: 'backoff', factor: 0.5 } })), 'reconnect.factor', 0.5],
    ['maxAttempts negative', () => resolveOptions(base({ reconnect: { strategy: 'backoff', maxAttempts: -1 } })), 'reconnect.maxAttempts', -1],
    ['maxAttempts fraction', () => resolveOptions(base({ reconnect: { strategy: 'backoff', maxAttempts: 2.5 } })), 'reconnect.maxAttempts', 2.5],
    ['queueSize 0', () => resolveOptions(base({ buffer: { queueSize: 0 } })), 'buffer.queueSize', 0],
    ['queueSize 100001', () => resolveOptions(base({ buffer: { queueSize: 100_001 } })), 'buffer.queueSize', 100_001],
    ['eventsPerSecond 0', () => resolveOptions(base({ buffer: { eventsPerSecond: 0 } })), 'buffer.eventsPerSecond', 0],
    ['eventsPerSecond 1001', () => resolveOptions(base({ buffer: { eventsPerSecond: 1001 } })), 'buffer.eventsPerSecond', 1001],
    ['overflow', () => resolveAny({ ...base(), buffer: { overflow: 'block' } }), 'buffer.overflow', 'block'],
    ['tolerance negative', () => resolveOptions(base({ buffer: { tolerance: -1 } })), 'buffer.tolerance', -1],
    ['buffer disabled as text', () => resolveAny({ ...base(), buffer: { disabled: 'yes' } }), 'buffer.disabled', 'yes'],
    ['unknown buffer key', () => resolveAny({ ...base(), buffer: { size: 5 } }), 'buffer.size', 5],
    ['agent id', () => resolveOptions(base({ agent: { ...agent, id: '123456789' } })), 'agent.id', '123456789'],
    ['agent id letters', () => resolveOptions(base({ agent: { ...agent, id: 'a1' } })), 'agent.id', 'a1'],
    ['agent name', () => resolveOptions(base({ agent: { ...agent, name: '.hidden' } })), 'agent.name', '.hidden'],
    ['agent name short', () => resolveOptions(base({ agent: { ...agent, name: 'a' } })), 'agent.name', 'a'],
    ['agent ip', () => resolveOptions(base({ agent: { ...agent, ip: 'somewhere' } })), 'agent.ip', 'somewhere'],
    ['unknown agent key', () => resolveAny({ ...base(), agent: { ...agent, secretKey: 'x' } }), 'agent.secretKey', '[redacted]'],
    ['agent and keys', () => resolveOptions(base({ keys: `001 a1 any ${KEY}` })), 'keys', '[redacted]'],
    ['keys not text', () => resolveAny({ servers: [{ address: 'm' }], keys: 42 }), 'keys', '[redacted]'],
    [
      'no key and enrollment off',
      () => resolveOptions({ servers: [{ address: 'm' }], enrollment: { enabled: false } }),
      'enrollment.enabled',
      false,
    ],
    ['enrollment port', () => resolveOptions(base({ enrollment: { port: 0 } })), 'enrollment.port', 0],
    ['enrollment manager address', () => resolveOptions(base({ enrollment: { managerAddress: 'a/b' } })), 'enrollment.managerAddress', 'a/b'],
    ['agentName', () => resolveOptions(base({ enrollment: { agentName: 'bad name' } })), 'enrollment.agentName', 'bad name'],
    ['agentName localhost', () => resolveOptions(base({ enrollment: { enabled: true, agentName: 'localhost' } })), 'enrollment.agentName', 'localhost'],
    ['group name', () => resolveOptions(base({ enrollment: { groups: ['ok', 'bad group'] } })), 'enrollment.groups[1]', 'bad group'],
    ['group ..', () => resolveOptions(base({ enrollment: { groups: ['..'] } })), 'enrollment.groups[0]', '..'],
    ['groups not an array', () => resolveAny({ ...base(), enrollment: { groups: 'a,b' } }), 'enrollment.groups', 'a,b'],
    ['agentAddress', () => resolveOptions(base({ enrollment: { agentAddress: 'here' } })), 'enrollment.agentAddress', 'here'],
    ['delayAfterEnrollment', () => resolveOptions(base({ enrollment: { delayAfterEnrollment: -1 } })), 'enrollment.delayAfterEnrollment', -1],
    ['enrollment timeout', () => resolveOptions(base({ enrollment: { timeout: 0 } })), 'enrollment.timeout', 0],
    ['empty ca', () => resolveOptions(base({ enrollment: { ca: '' } })), 'enrollment.ca', ''],
    ['unknown enrollment key', () => resolveAny({ ...base(), enrollment: { manager: 'x' } }), 'enrollment.manager', '[redacted]'],
    ['label key with a quote', () => resolveOptions(base({ labels: { 'a"b': 'v' } })), 'labels.a"b', 'a"b'],
    ['label value with a newline', () => resolveOptions(base({ labels: [{ key: 'k', value: 'a\nb' }] })), 'labels[0]', 'a\nb'],
    ['label given twice', () => resolveOptions(base({ labels: [{ key: 'k', value: '1' }, { key: 'k', value: '2' }] })), 'labels[1]', 'k'],
    ['labels not a collection', () => resolveAny({ ...base(), labels: 'env=prod' }), 'labels', 'env=prod'],
    ['uname with a newline', () => resolveOptions(base({ uname: 'a\nb' })), 'uname', 'a\nb'],
    ['uname missing a field', () => resolveAny({ ...base(), uname: { sysname: 'Linux' } }), 'uname.nodename', undefined],
    ['version', () => resolveOptions(base({ version: '4.14.7' })), 'version', '4.14.7'],
    ['agentConfigSum', () => resolveOptions(base({ agentConfigSum: 'xyz' })), 'agentConfigSum', 'xyz'],
    ['localAddress', () => resolveOptions(base({ localAddress: 'localhost' })), 'localAddress', 'localhost'],
    ['signal', () => resolveAny({ ...base(), signal: {} }), 'signal', '[redacted]'],
    ['logger', () => resolveAny({ ...base(), logger: { info() {} } }), 'logger', '[redacted]'],
    ['counterStore', () => resolveAny({ ...base(), counterStore: { load() {} } }), 'counterStore', '[redacted]'],
    ['autoRestart', () => resolveAny({ ...base(), autoRestart: 'yes' }), 'autoRestart', 'yes'],
    ['configProfile', () => resolveAny({ ...base(), configProfile: 5 }), 'configProfile', 5],
    ['options not an object', () => resolveAny(null), 'options', null],
  ];

  it.each(cases)('rejects %s', (_name, fn, element, value) => {
    expectConfigError(fn, element, { value });
  });

  it('names the allowed range in the message', () => {
    const err = expectConfigError(() => resolveOptions(base({ servers: [{ address: 'a', port: 70000 }] })), 'servers[0].port');
    expect(err.message).toContain('servers[0].port');
    expect(err.message).toContain('1 to 65535');
    expect(err.message).toContain('70000');
  });

  it('rejects a misspelled option and suggests the right name', () => {
    const err = expectConfigError(() => resolveAny({ ...base(), notifytime: 5000 }), 'notifytime', { value: 5000 });
    expect(err.message).toContain("Did you mean 'notifyTime'?");
  });

  it('never puts a secret in the error', () => {
    const secret = 'hunter2-super-secret';
    const errs = [
      expectConfigError(() => resolveOptions(base({ agent: { ...agent, key: secret.repeat(10) } })), 'agent.key'),
      expectConfigError(() => resolveOptions(base({ enrollment: { password: 'ab' } })), 'enrollment.password'),
      expectConfigError(() => resolveAny({ ...base(), enrollment: { password: 12345 } }), 'enrollment.password'),
      expectConfigError(() => resolveAny({ ...base(), enrollment: { key: Buffer.alloc(0) } }), 'enrollment.key'),
      expectConfigError(() => resolveAny({ ...base(), enrollment: { pasword: secret } }), 'enrollment.pasword'),
      expectConfigError(() => resolveAny({ ...base(), agent: secret }), 'agent'),
    ];
    for (const err of errs) {
      expect(err.value).toBe('[redacted]');
      expect(err.message).not.toContain(secret);
      expect(err.message).not.toContain('ab\'');
    }
  });
});
