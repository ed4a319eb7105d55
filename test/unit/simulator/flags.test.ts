import { describe, expect, test } from 'vitest';
import { ToolError } from 'agentlink';
import { parseChaos, parseHostPort, parseSimulateArgs, shardAgentIndexes, suggestFlag } from 'agentlink/simulator';

const args = (s: string): string[] => s.split(' ').filter(Boolean);

function usageError(argv: string[]): ToolError {
  try {
    parseSimulateArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(ToolError);
    expect((err as ToolError).code).toBe('ERR_USAGE');
    expect((err as ToolError).message).not.toContain('\n');
    return err as ToolError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('parseSimulateArgs: good input', () => {
  test('the minimal cluster run gets the documented defaults', () => {
    expect(parseSimulateArgs(args('--agents 300 --cluster 3'))).toEqual({
      agents: 300,
      target: { kind: 'cluster', nodes: 3 },
      spread: true,
      groups: [],
      protocol: 'tcp',
      crypto: 'aes',
      strategy: 'wazuh',
      jitter: 0,
      notifyTimeMs: 20_000,
      timeReconnectMs: 60_000,
      rampPerSecond: 500,
      eps: 1,
      workload: 'syslog',
      durationMs: 60_000,
      chaos: [],
      workers: 1,
      shard: { index: 1, count: 1 },
      seed: 'agentlink',
      quiet: false,
      sourceIps: 0,
      drainMs: 5_000,
      given: ['agents', 'target'],
      thresholds: [],
      abortOnFail: false,
      json: false,
      connectDeadlineMs: 15_000,
    });
  });

  test('every flag lands in the config', () => {
    const c = parseSimulateArgs([
      ...args('--agents 5000 --cluster 4 --no-spread --protocol udp --crypto blowfish --strategy backoff --jitter 0.25'),
      ...args('--notify 10s --time-reconnect 1m --ramp 250/s --eps 0.5 --workload fim --duration 1h30m'),
      ...['--chaos', 'restart:node2@40s,kill:node2@20s', '--chaos', 'rebalance@50s'],
      ...args('--workers 4 --shard 2/3 --report out.json --html r.html --prometheus 9464 --lb nginx --seed s1 --quiet'),
      ...args('--source-ips 64 --drain 500ms --compression-level 0'),
    ]);
    expect(c).toMatchObject({
      agents: 5000,
      target: { kind: 'cluster', nodes: 4 },
      spread: false,
      protocol: 'udp',
      crypto: 'blowfish',
      strategy: 'backoff',
      jitter: 0.25,
      notifyTimeMs: 10_000,
      timeReconnectMs: 60_000,
      rampPerSecond: 250,
      eps: 0.5,
      workload: 'fim',
      durationMs: 5_400_000,
      chaos: [
        { action: 'kill', node: 'node2', atMs: 20_000 },
        { action: 'restart', node: 'node2', atMs: 40_000 },
        { action: 'rebalance', atMs: 50_000 },
      ],
      workers: 4,
      shard: { index: 2, count: 3 },
      reportPath: 'out.json',
      htmlPath: 'r.html',
      prometheusPort: 9464,
      lb: 'nginx',
      seed: 's1',
      quiet: true,
      sourceIps: 64,
      drainMs: 500,
      compressionLevel: 0,
    });
  });

  test('repeated --manager flags make an ordered server list with default ports', () => {
    const c = parseSimulateArgs(args('--agents 10 --manager m1.example:1514 --manager 10.0.0.2 --manager [::1]:2000 --keys k.keys'));
    expect(c.target).toEqual({
      kind: 'managers',
      servers: [
        { host: 'm1.example', port: 1514 },
        { host: '10.0.0.2', port: 1514 },
        { host: '::1', port: 2000 },
      ],
    });
    expect(c.keysFile).toBe('k.keys');
  });

  test('enrollment flags parse with the authd default port', () => {
    const c = parseSimulateArgs(args('--agents 2 --manager 127.0.0.1 --enroll 127.0.0.1 --password-file pw --groups web,db'));
    expect(c.enroll).toEqual({ host: '127.0.0.1', port: 1515 });
    expect(c.passwordFile).toBe('pw');
    expect(c.groups).toEqual(['web', 'db']);
  });

  test('--config is a target of its own and a ramp can be per minute', () => {
    const c = parseSimulateArgs(args('--agents 1 --config /etc/ossec.conf --ramp 120/m'));
    expect(c.target).toEqual({ kind: 'config', path: '/etc/ossec.conf' });
    expect(c.rampPerSecond).toBe(2);
  });
});

describe('parseSimulateArgs: bad input names the flag', () => {
  test.each([
    ['an unknown flag', '--agents 1 --cluster 1 --agnets 2', /unknown flag '--agnets'; did you mean --agents\?/],
    ['a malformed duration', '--agents 1 --cluster 1 --duration 10x', /--duration '10x' is not a duration; write it like/],
    ['a duration without unit', '--agents 1 --cluster 1 --notify 20', /--notify '20' is not a duration/],
    ['a shard beyond the count', '--agents 10 --cluster 1 --shard 3/2', /--shard '3\/2' must be I\/N with 1 <= I <= N/],
    ['a 0-based shard', '--agents 10 --cluster 1 --shard 0/2', /--shard '0\/2'.*numbered from 1/],
    ['chaos on an unknown node', '--agents 1 --cluster 3 --chaos kill:node4@10s', /unknown node 'node4'; the cluster has node1\.\.node3/],
    ['chaos without a cluster', '--agents 1 --manager h:1 --keys k --chaos kill:node1@1s', /--chaos needs --cluster/],
    ['chaos after the end', '--agents 1 --cluster 1 --duration 30s --chaos kill:node1@40s', /--chaos step kill:node1@40s is not before the end/],
    ['an unknown chaos action', '--agents 1 --cluster 1 --chaos explode:node1@1s', /unknown action 'explode'/],
    ['a path fault over UDP', '--agents 1 --cluster 2 --protocol udp --chaos blackhole:node1@1s+1s', /act on TCP paths through a fault proxy; use --protocol tcp/],
    ['two targets', '--agents 1 --cluster 3 --manager h:1514', /--manager and --cluster both name a target/],
    ['no target', '--agents 1', /no target: give --manager/],
    ['missing --agents', '--cluster 3', /--agents is required/],
    ['zero agents', '--agents 0 --cluster 3', /--agents '0' must be a whole number from 1/],
    ['a fractional agent count', '--agents 2.5 --cluster 3', /--agents '2\.5'/],
    ['a missing value', '--agents 1 --cluster', /--cluster needs a value/],
    ['a value on a switch', '--agents 1 --cluster 1 --quiet=yes', /--quiet is a switch/],
    ['a stray positional', '--agents 1 --cluster 1 extra', /unexpected argument 'extra'/],
    ['a bad protocol', '--agents 1 --cluster 1 --protocol sctp', /--protocol 'sctp' is not one of tcp, udp/],
    ['a dashboard host without its port', '--agents 1 --cluster 1 --dashboard-host 0.0.0.0', /--dashboard-host 0\.0\.0\.0: give --dashboard PORT too/],
    ['a Prometheus host that is not an address', '--agents 1 --cluster 1 --prometheus 0 --prometheus-host my-host', /--prometheus-host my-host: not an IP address/],
    ['a dashboard port out of range', '--agents 1 --cluster 1 --dashboard 70000', /--dashboard '70000'/],
    ['a compression level above 9', '--agents 1 --cluster 1 --compression-level 10', /--compression-level '10' must be a whole number from 0 to 9/],
    ['a fractional compression level', '--agents 1 --cluster 1 --compression-level 4.5', /--compression-level '4\.5' must be a whole number from 0 to 9/],
    ['a compression level that is no number', '--agents 1 --cluster 1 --compression-level fast', /--compression-level 'fast' must be a whole number/],
    ['jitter above 1', '--agents 1 --cluster 1 --jitter 1.5', /--jitter '1\.5' must be a number from 0 to 1/],
    ['negative eps', '--agents 1 --cluster 1 --eps -1', /--eps/],
    ['a bad ramp', '--agents 1 --cluster 1 --ramp fast', /--ramp 'fast'/],
    ['a bad manager port', '--agents 1 --manager h:99999 --keys k', /--manager port '99999'/],
    ['an unbracketed IPv6 with port', '--agents 1 --manager fe80::1::x --keys k', /--manager 'fe80::1::x': put an IPv6 address in brackets/],
    ['UDP through HAProxy', '--agents 1 --cluster 2 --lb haproxy --protocol udp', /--lb haproxy balances TCP only; for UDP use --lb nginx/],
    ['a node added behind nginx', '--agents 1 --cluster 2 --lb nginx --chaos add:node3@1s', /--chaos add: nginx cannot learn of a new node while it runs \(no runtime API\); use --lb haproxy/],
    ['--lb without a cluster', '--agents 1 --manager h --keys k --lb haproxy', /--lb needs --cluster/],
    ['--manager without identities', '--agents 1 --manager h', /--manager needs agent identities/],
    ['--keys with --cluster', '--agents 1 --cluster 2 --keys k', /--keys cannot be used with --cluster/],
    ['--password-file without --enroll', '--agents 1 --cluster 2 --password-file p', /--password-file needs --enroll/],
    ['--source-ips towards a remote manager', '--agents 1 --manager 10.1.1.1 --keys k --source-ips 4', /--source-ips spreads over 127\.0\.0\.0\/8, which cannot reach 10\.1\.1\.1/],
    ['more shards than agents', '--agents 2 --cluster 1 --shard 1/3', /more shards than agents/],
    ['a zero keepalive', '--agents 1 --cluster 1 --notify 0', /--notify must be longer than 0/],
  ])('%s', (_what, argv, message) => {
    expect(usageError(args(argv)).message).toMatch(message);
  });
});

describe('flag helpers', () => {
  test('host:port parsing handles names, IPv4, bracketed and bare IPv6', () => {
    expect(parseHostPort('example.org:1600', '--manager', 1514)).toEqual({ host: 'example.org', port: 1600 });
    expect(parseHostPort('::1', '--manager', 1514)).toEqual({ host: '::1', port: 1514 });
    expect(parseHostPort('[2001:db8::1]', '--manager', 1514)).toEqual({ host: '2001:db8::1', port: 1514 });
    expect(() => parseHostPort(':1514', '--manager', 1514)).toThrow(/has no host/);
  });

  test('chaos steps are sorted by time', () => {
    expect(parseChaos('restart:node1@1m, kill:node1@500ms', 1)).toEqual([
      { action: 'kill', node: 'node1', atMs: 500 },
      { action: 'restart', node: 'node1', atMs: 60_000 },
    ]);
    expect(() => parseChaos('kill@1s', 2)).toThrow(/name the node/);
    expect(() => parseChaos('rebalance:node1@1s', 2)).toThrow(/whole cluster/);
    expect(() => parseChaos('kill:node1', 2)).toThrow(/ACTION:NODE@TIME/);
  });

  test('flag suggestions only appear for near misses', () => {
    expect(suggestFlag('--durration', ['duration', 'drain'])).toBe('--duration');
    expect(suggestFlag('--banana', ['duration', 'drain'])).toBeUndefined();
  });

  test('shards split a fleet into disjoint parts that cover every agent', () => {
    const parts = [1, 2, 3].map((index) => shardAgentIndexes(10, { index, count: 3 }));
    expect(parts).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7],
      [2, 5, 8],
    ]);
    expect(shardAgentIndexes(5, { index: 1, count: 1 })).toEqual([0, 1, 2, 3, 4]);
  });
});
