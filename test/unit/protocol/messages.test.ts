import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../src/index.js';
import {
  ACK_MESSAGE,
  AGENT_VERSION,
  FILE_CLOSE_MESSAGE,
  FORCE_RECONNECT_MESSAGE,
  PING,
  PONG,
  QUEUE,
  SHUTDOWN_MESSAGE,
  UNMERGE_FAILED_EVENT,
  agentStartedEvent,
  agentStoppedEvent,
  bufferStateEvent,
  buildErr,
  buildEvent,
  buildExecd,
  buildFileOpen,
  buildKeepalive,
  buildRequest,
  buildRequestAck,
  buildRequestReply,
  buildStartup,
  escapeLocation,
  formatAnalysisdEvent,
  formatUname,
  invalidRemoteConfigEvent,
  parseAgentMessage,
  parseEvent,
  parseKeepalive,
  parseManagerMessage,
  parseUname,
  unescapeLocation,
} from '../../../src/index.js';
import { V, vector } from './vectors.js';

const A = V.message_catalog.agent_to_manager;
const M = V.message_catalog.manager_to_agent;
const G = V.message_catalog.manager_generated_for_analysisd;
const b = (s: string) => Buffer.from(s, 'utf8');
const UNAME = {
  sysname: 'Linux',
  nodename: 'agent1',
  release: '5.15.0',
  version: '#1 SMP',
  machine: 'x86_64',
  osName: 'Ubuntu',
  osPlatform: 'ubuntu',
  osVersion: '22.04.3 LTS (Jammy Jellyfish)',
};

describe('catalogue strings built by the builders', () => {
  it('builds the constants and control messages exactly', () => {
    expect(AGENT_VERSION).toBe('v4.14.7');
    expect(buildStartup()).toBe(A['startup_v4.6+']);
    expect(buildStartup(null)).toBe(A['startup_pre_4.6']);
    expect(SHUTDOWN_MESSAGE).toBe(A.shutdown);
    expect(ACK_MESSAGE).toBe(M.ack);
    expect(FORCE_RECONNECT_MESSAGE).toBe(M.force_reconnect);
    expect(FILE_CLOSE_MESSAGE).toBe(M.file_close);
    expect(PING).toBe(V.message_catalog.plain_unencrypted.health_check_request);
    expect(PONG).toBe(V.message_catalog.plain_unencrypted.health_check_reply);
    expect(buildErr('Agent version must be lower or equal to manager version')).toBe(M.version_error);
    expect(buildErr("Couldn't retrieve version")).toBe(M.version_unreadable_error);
    expect(buildRequest('5e2f1a9c', 'agent', 'getconfig client')).toBe(M.request);
    expect(buildRequestAck('5e2f1a9c')).toBe(M.request_udp_ack);
    expect(buildRequestAck('5e2f1a9c')).toBe(A.request_udp_ack);
    expect(buildRequestReply('5e2f1a9c', 'ok {"client":{...}}')).toBe(A.request_response);
    expect(buildRequestReply('5e2f1a9c', 'err Unrecognized command')).toBe(A.request_error);
    expect(buildFileOpen('3f2e2d2f5b6a4f9c8e1d0c7b6a594837', 'merged.mg')).toBe(M.file_update_start);
    expect(
      buildExecd({
        version: 1,
        origin: { name: 'node01', module: 'wazuh-analysisd' },
        command: 'firewall-drop0',
        parameters: { extra_args: [], alert: {} },
      }),
    ).toBe(M.active_response);
  });

  it('builds the keepalives exactly, with and without agent.conf sum, labels and agent IP', () => {
    const uname = formatUname(UNAME);
    expect(buildKeepalive({ uname, agentIp: '192.168.1.50' })).toBe(A.keepalive_no_agentconf_no_labels_with_ip);
    expect(
      buildKeepalive({
        uname,
        agentConfigSum: 'ab73af41699f13fdd81903b5f23d8d00',
        labels: [
          { key: 'env', value: 'prod' },
          { key: 'secret', value: 'x', hidden: true },
        ],
        mergedSum: 'd41d8cd98f00b204e9800998ecf8427e',
      }),
    ).toBe(A.keepalive_with_agentconf_md5_no_ip);
    const ka = vector('aes-keepalive').inputs.message_ascii!;
    expect(
      buildKeepalive({
        uname: formatUname({ ...UNAME, release: '5.15.0-91-generic', version: '#101-Ubuntu SMP' }),
        agentConfigSum: 'ab73af41699f13fdd81903b5f23d8d00',
        labels: [{ key: 'env', value: 'prod' }],
        agentIp: '192.168.1.50',
      }),
    ).toBe(ka);
  });

  it('builds the agent and manager self events exactly', () => {
    expect(agentStartedEvent('agent1', 'any')).toBe(A.agent_started_event);
    expect(bufferStateEvent('warning')).toBe(A.buffer_warning_event);
    expect(bufferStateEvent('warning', 75)).toBe("1:wazuh-agent:wazuh: Agent buffer: '75%'.");
    expect(bufferStateEvent('full')).toBe(A.buffer_full_event);
    expect(bufferStateEvent('flooded')).toBe(A.buffer_flooded_event);
    expect(bufferStateEvent('normal')).toBe(A.buffer_normal_event);
    expect(UNMERGE_FAILED_EVENT).toBe(A.unmerge_failed_event);
    expect(invalidRemoteConfigEvent('localfile')).toBe(A.invalid_remote_config_event);
    expect(agentStoppedEvent('agent1', 'any')).toBe(G.agent_stopped);
    expect(formatAnalysisdEvent({ id: '001', name: 'agent1', ip: 'any' }, A.logcollector_event!)).toBe(G.event_as_seen_by_analysisd);
  });

  it('builds events with escaped locations', () => {
    expect(buildEvent({ queue: QUEUE.LOCALFILE, location: '/var/log/syslog', message: 'Jan  1 00:00:00 host test: hello world' })).toBe(A.logcollector_event);
    expect(buildEvent({ queue: QUEUE.LOCALFILE, location: 'C:\\logs\\app.log', message: 'some line' })).toBe(A.windows_location_escaping);
    expect(buildEvent({ queue: '8', location: 'syscheck', message: b('{}') })).toEqual(b('8:syscheck:{}'));
    expect(() => buildEvent({ queue: '12', location: 'x', message: 'y' })).toThrow();
  });

  it('has the queue characters of protocol.md 4.1', () => {
    expect(QUEUE).toEqual({
      LOCALFILE: '1',
      SYSLOG: '2',
      HOSTINFO: '3',
      SECURE: '4',
      DBSYNC: '5',
      SYSCHECK: '8',
      ROOTCHECK: '9',
      SYSCOLLECTOR: 'd',
      CISCAT: 'e',
      WIN_EVT: 'f',
      SCA: 'p',
      UPGRADE: 'u',
    });
  });
});

describe('location escaping', () => {
  it('escapes : and | and reverses it', () => {
    for (const [raw, esc] of [
      ['C:\\a.log', 'C|:\\a.log'],
      ['a|b', 'a||b'],
      ['|:', '|||:'],
      ['::||', '|:|:||||'],
      ['plain', 'plain'],
    ]) {
      expect(escapeLocation(raw!)).toBe(esc);
      expect(unescapeLocation(esc!)).toBe(raw);
    }
  });
});

describe('parseEvent', () => {
  it('splits at the first unescaped colon', () => {
    expect(parseEvent(A.windows_location_escaping!)).toEqual({ queue: '1', location: 'C:\\logs\\app.log', message: 'some line' });
    expect(parseEvent(A.logcollector_event!)).toEqual({ queue: '1', location: '/var/log/syslog', message: 'Jan  1 00:00:00 host test: hello world' });
    expect(parseEvent('1:a||:b:c')).toEqual({ queue: '1', location: 'a|', message: 'b:c' });
    expect(parseEvent('1:a|||:b:c')).toEqual({ queue: '1', location: 'a|:b', message: 'c' });
    expect(parseEvent('1:loc:')).toEqual({ queue: '1', location: 'loc', message: '' });
    const e = parseEvent(b('8:syscheck:{"x":1}'));
    expect(e.message).toEqual(b('{"x":1}'));
  });

  it('round-trips any location through buildEvent', () => {
    for (const loc of ['a', ':', '|', '||::', 'C:\\x|y:z', 'é:ü']) {
      expect(parseEvent(buildEvent({ queue: 'd', location: loc, message: 'm:n' }))).toEqual({ queue: 'd', location: loc, message: 'm:n' });
    }
  });

  it('rejects malformed events with ERR_DECODE_MESSAGE', () => {
    for (const bad of ['', '1', '1:', '12:x:y', '1:no-end', '1:a|:b']) {
      try {
        parseEvent(bad);
        expect.unreachable(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        expect((e as DecodeError).code).toBe('ERR_DECODE_MESSAGE');
      }
    }
  });
});

describe('uname', () => {
  it('formats the bracket form and the fallback without OS fields', () => {
    expect(formatUname(UNAME)).toBe('Linux |agent1 |5.15.0 |#1 SMP |x86_64 [Ubuntu|ubuntu: 22.04.3 LTS (Jammy Jellyfish)] - Wazuh v4.14.7');
    expect(formatUname({ sysname: 'Linux', nodename: 'h', release: '6.1', version: '#1', machine: 'aarch64' }, 'v4.9.0')).toBe(
      'Linux h 6.1 #1 aarch64 - Wazuh v4.9.0',
    );
  });

  it('parses the OS fields of a Linux line', () => {
    const u = parseUname(formatUname(UNAME));
    expect(u).toMatchObject({
      agentVersion: 'v4.14.7',
      sysname: 'Linux',
      nodename: 'agent1',
      release: '5.15.0',
      version: '#1 SMP',
      machine: 'x86_64',
      osName: 'Ubuntu',
      osPlatform: 'ubuntu',
      osVersion: '22.04.3 LTS',
      osMajor: '22',
      osMinor: '04',
      osBuild: undefined,
      osCodename: 'Jammy Jellyfish',
      osArch: 'x86_64',
    });
  });

  // Expected values follow remoted's parse_uname_string (shared/remoted_op.c, v4.14.7): what a
  // manager's agent list shows for these agents.
  it.each([
    [
      'Debian, as wazuh-agentd 4.14.7 sends it',
      'Linux |vm |6.18.44-fc-v1272 |#1 SMP PREEMPT_DYNAMIC @0 |x86_64 [Debian GNU/Linux|debian: 12 (bookworm)] - Wazuh v4.14.7',
      { osName: 'Debian GNU/Linux', osPlatform: 'debian', osVersion: '12', osCodename: 'bookworm', osMajor: '12', osMinor: undefined, osArch: 'x86_64' },
    ],
    [
      'SUSE: the service pack is the minor',
      'Linux |sles |5.14.21 |#1 SMP |x86_64 [SLES|sles: 15-SP7] - Wazuh v4.14.7',
      { osName: 'SLES', osPlatform: 'sles', osVersion: '15-SP7', osCodename: undefined, osMajor: '15', osMinor: '7' },
    ],
    [
      'CentOS with a one-word codename',
      'Linux |c7 |3.10.0 |#1 SMP |x86_64 [CentOS Linux|centos: 7.9.2009 (Core)] - Wazuh v4.14.7',
      { osName: 'CentOS Linux', osPlatform: 'centos', osVersion: '7.9.2009', osCodename: 'Core', osMajor: '7', osMinor: '9' },
    ],
    [
      'no version: name and platform only',
      'Linux |arch |6.9.1 |#1 SMP |x86_64 [Arch Linux|arch] - Wazuh v4.14.7',
      { osName: 'Arch Linux', osPlatform: 'arch', osVersion: undefined, osMajor: undefined },
    ],
    [
      'an architecture remoted does not know',
      'Linux |p9 |5.14.0 |#1 SMP |ppc64le [Red Hat Enterprise Linux|rhel: 9.4 (Plow)] - Wazuh v4.14.7',
      { machine: 'ppc64le', osArch: undefined, osVersion: '9.4', osCodename: 'Plow', osMinor: '4' },
    ],
    [
      'Windows: version, build, platform and architecture',
      'Microsoft Windows 11 Pro [Ver: 10.0.22631.3880] |DESKTOP-7 |x86_64 - Wazuh v4.14.7',
      { osName: 'Microsoft Windows 11 Pro', osPlatform: 'windows', osVersion: '10.0.22631.3880', osMajor: '10', osMinor: '0', osBuild: '22631.3880', osArch: 'x86_64' },
    ],
  ])('reads the OS fields as remoted does: %s', (_what, line, expected) => {
    expect(parseUname(line)).toMatchObject(expected);
  });

  it('parses a Windows line and a fallback line', () => {
    expect(parseUname('Microsoft Windows 10 Pro [Ver: 10.0.19045] |DESKTOP-1 |x86_64 - Wazuh v4.14.7')).toMatchObject({
      osName: 'Microsoft Windows 10 Pro',
      osPlatform: 'windows',
      osVersion: '10.0.19045',
      osMajor: '10',
      osMinor: '0',
      osBuild: '19045',
      nodename: 'DESKTOP-1',
      machine: 'x86_64',
      agentVersion: 'v4.14.7',
    });
    expect(parseUname('Linux h 6.1 #1 aarch64 - Wazuh v4.9.0')).toMatchObject({ sysname: 'Linux', nodename: 'h', machine: 'aarch64', osName: undefined });
  });
});

describe('parseKeepalive', () => {
  it('reads uname, sums, labels and agent IP as the manager does', () => {
    const k = parseKeepalive(A.keepalive_with_agentconf_md5_no_ip!);
    expect(k.uname).toBe(formatUname(UNAME));
    expect(k.version).toBe('v4.14.7');
    expect(k.agentConfigSum).toBe('ab73af41699f13fdd81903b5f23d8d00');
    expect(k.labels).toEqual([
      { key: 'env', value: 'prod' },
      { key: 'secret', value: 'x', hidden: true },
    ]);
    expect(k.mergedSum).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(k.agentIp).toBeUndefined();
    expect(k.os?.osPlatform).toBe('ubuntu');
    const k2 = parseKeepalive(A.keepalive_no_agentconf_no_labels_with_ip!);
    expect(k2.agentIp).toBe('192.168.1.50');
    expect(k2.mergedSum).toBe('x');
    expect(k2.agentConfigSum).toBeUndefined();
  });

  it('rebuilds the same text from what it parsed', () => {
    for (const text of [A.keepalive_with_agentconf_md5_no_ip!, A.keepalive_no_agentconf_no_labels_with_ip!, vector('aes-keepalive').inputs.message_ascii!]) {
      expect(buildKeepalive(parseKeepalive(text))).toBe(text);
    }
    expect(buildKeepalive(parseKeepalive(buildKeepalive({ uname: 'u - Wazuh v1', labels: [{ key: 'k', value: 'v', system: true }] })))).toBe(
      '#!-u - Wazuh v1\n#"k":v\nx merged.mg\n\n',
    );
  });

  it('gives each keepalive its own uname fields, equal to parseUname, however often a line repeats', () => {
    const text = A.keepalive_with_agentconf_md5_no_ip!;
    const first = parseKeepalive(text);
    const second = parseKeepalive(text);
    expect(second.os).toEqual(first.os);
    expect(second.os).not.toBe(first.os);
    expect(second.os).toEqual(parseUname(first.uname));
    // a caller changing one parse changes no other
    first.os!.osName = 'changed';
    expect(parseKeepalive(text).os?.osName).toBe(second.os?.osName);
    // more distinct lines than the cache keeps: each is still read from its own text
    for (let i = 0; i < 600; i++) {
      const k = parseKeepalive(`#!-Linux |host${i} |6.1.${i} |#1 SMP |x86_64 [Debian GNU/Linux|debian: 12] - Wazuh v4.${i}\nx merged.mg\n`);
      expect(k.os?.nodename).toBe(`host${i}`);
      expect(k.os?.release).toBe(`6.1.${i}`);
      expect(k.version).toBe(`v4.${i}`);
      expect(k.uname).toBe(`Linux |host${i} |6.1.${i} |#1 SMP |x86_64 [Debian GNU/Linux|debian: 12] - Wazuh v4.${i}`);
    }
    expect(parseKeepalive(text).os).toEqual(second.os);
  });

  it('discards what follows the last newline and rejects a keepalive without one', () => {
    expect(parseKeepalive('#!-a - Wazuh v4\nx merged.mg\nrandom').mergedSum).toBe('x');
    expect(parseKeepalive('#!-a - Wazuh v4\nx merged.mg\nrandom').uname).toBe('a - Wazuh v4');
    expect(() => parseKeepalive('#!-no newline')).toThrow(DecodeError);
  });
});

describe('parseManagerMessage', () => {
  const cases: [string, unknown][] = [
    [M.ack!, { type: 'ack' }],
    [M.version_error!, { type: 'err', message: 'Agent version must be lower or equal to manager version', raw: '{"message":"Agent version must be lower or equal to manager version"}' }],
    ['#!-err not json', { type: 'err', message: 'not json', raw: 'not json' }],
    [M.active_response!, { type: 'execd', payload: M.active_response!.slice(9) }],
    [M.active_response_restart_from_api!, { type: 'execd', payload: M.active_response_restart_from_api!.slice(9) }],
    [M.force_reconnect!, { type: 'force_reconnect' }],
    [M.syscheck_restart!, { type: 'module', module: 'syscheck', payload: 'syscheck restart' }],
    ['#!-fim_registry_key x', { type: 'module', module: 'fim_registry_key', payload: 'fim_registry_key x' }],
    ['#!-syscollector_hwinfo', { type: 'module', module: 'syscollector', payload: 'syscollector_hwinfo' }],
    ['#!-sca-dump policy', { type: 'module', module: 'sca', payload: 'sca-dump policy' }],
    [M.request!, { type: 'request', counter: '5e2f1a9c', target: 'agent', command: 'getconfig client' }],
    ['#!-req 1a agent', { type: 'request', counter: '1a', target: 'agent', command: '' }],
    [M.request_udp_ack!, { type: 'request_ack', counter: '5e2f1a9c' }],
    [M.file_update_start!, { type: 'file_open', md5: '3f2e2d2f5b6a4f9c8e1d0c7b6a594837', name: 'merged.mg' }],
    [M.file_close!, { type: 'file_close' }],
    ['#!-something else', { type: 'control', text: '#!-something else' }],
    ['#!-agent ackx', { type: 'control', text: '#!-agent ackx' }],
  ];
  for (const [text, expected] of cases) {
    it(`classifies ${JSON.stringify(text.slice(0, 40))}`, () => {
      expect(parseManagerMessage(b(text))).toEqual(expected);
    });
  }

  it('treats a non-control message as a shared-file chunk', () => {
    const chunk = Buffer.from([0, 1, 2, 0x23, 0x21]);
    expect(parseManagerMessage(chunk)).toEqual({ type: 'data', data: chunk });
  });

  it('rejects a malformed request or file header with ERR_DECODE_MESSAGE', () => {
    for (const bad of ['#!-req ', '#!-req x', '#!-up file ', '#!-up file abc', '#!-up file abc \n']) {
      expect(() => parseManagerMessage(b(bad)), bad).toThrow(DecodeError);
    }
  });
});

describe('parseAgentMessage', () => {
  it('classifies startups, shutdown, keepalives, request replies and events', () => {
    expect(parseAgentMessage(b(A['startup_v4.6+']!))).toEqual({ type: 'startup', version: 'v4.14.7' });
    expect(parseAgentMessage(b(A['startup_pre_4.6']!))).toEqual({ type: 'startup', version: undefined });
    expect(parseAgentMessage(b('#!-agent startup {"name":"x"}'))).toEqual({ type: 'startup', version: undefined, versionError: 'missing' });
    expect(parseAgentMessage(b('#!-agent startup {"version":4}'))).toEqual({ type: 'startup', version: undefined, versionError: 'missing' });
    expect(parseAgentMessage(b(A.shutdown!))).toEqual({ type: 'shutdown' });
    const ka = parseAgentMessage(b(A.keepalive_no_agentconf_no_labels_with_ip!));
    expect(ka.type).toBe('keepalive');
    if (ka.type === 'keepalive') expect(ka.info.agentIp).toBe('192.168.1.50');
    expect(parseAgentMessage(b(A.request_response!))).toEqual({ type: 'request_reply', counter: '5e2f1a9c', response: 'ok {"client":{...}}' });
    expect(parseAgentMessage(b(A.getstate_response!))).toMatchObject({ type: 'request_reply', counter: '5e2f1a9c' });
    expect(parseAgentMessage(b(A.request_udp_ack!))).toEqual({ type: 'request_ack', counter: '5e2f1a9c' });
    expect(parseAgentMessage(b(A.windows_location_escaping!))).toEqual({
      type: 'event',
      queue: '1',
      location: 'C:\\logs\\app.log',
      message: b('some line'),
    });
  });

  it('treats a shutdown with anything else as not a shutdown, and a control message without newline as invalid', () => {
    expect(parseAgentMessage(b('#!-agent shutdown'))).toEqual({ type: 'invalid_control', text: '#!-agent shutdown' });
    expect(parseAgentMessage(b('#!-agent shutdown x'))).toEqual({ type: 'invalid_control', text: '#!-agent shutdown x' });
    expect(parseAgentMessage(b('#!-anything\n')).type).toBe('keepalive');
  });

  it('rejects a malformed event with ERR_DECODE_MESSAGE', () => {
    expect(() => parseAgentMessage(b('hello'))).toThrow(DecodeError);
  });
});
