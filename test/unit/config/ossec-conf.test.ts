import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseOssecConf, resolveOptions, ConfigError } from '../../../src/index.js';
import { expectConfigError } from './helpers.js';

const fixture = (name: string): string => readFileSync(new URL(`../../fixtures/ossec/${name}`, import.meta.url), 'utf8');
const KEYS = `001 agent1 any ${'a'.repeat(64)}\n`;
/** Wraps `<client>` content in a minimal file. */
const client = (inner: string, rest = ''): string => `<ossec_config>\n<client>\n${inner}\n</client>\n${rest}</ossec_config>\n`;
const server = '<server><address>m1</address></server>';

describe('parseOssecConf on the Wazuh default agent file', () => {
  const conf = parseOssecConf(fixture('agent-default.conf'));

  it('reads the client, client_buffer and ignores every other section', () => {
    expect(conf.options).toEqual({
      servers: [{ address: '10.0.0.10', port: 1514, protocol: 'tcp' }],
      configProfile: 'ubuntu, ubuntu22, ubuntu22.04',
      notifyTime: 20_000,
      timeReconnect: 60_000,
      autoRestart: true,
      cryptoMethod: 'aes',
      buffer: { disabled: false, queueSize: 5000, eventsPerSecond: 500 },
    });
    expect(conf.warnings).toEqual([]);
    expect(conf.configProfile).toBe('ubuntu, ubuntu22, ubuntu22.04');
    expect(conf.autoRestart).toBe(true);
    expect(conf.ipUpdateInterval).toBe(0);
    expect(conf.disableActiveResponse).toBe(false);
  });

  it('resolves directly with a key added', () => {
    const r = resolveOptions({ ...conf.options, keys: KEYS });
    expect(r.servers).toEqual([{ address: '10.0.0.10', port: 1514, protocol: 'tcp', maxRetries: 5, retryInterval: 10_000 }]);
    expect(r.notifyTime).toBe(20_000);
    expect(r.timeReconnect).toBe(60_000);
    expect(r.agent?.id).toBe('001');
  });

  it('refuses the installer placeholder MANAGER_IP with (4112)', () => {
    const xml = fixture('agent-default.conf').replace('<address>10.0.0.10</address>', '<address>MANAGER_IP</address>');
    const err = expectConfigError(() => parseOssecConf(xml), 'client/server/address', { value: 'MANAGER_IP' });
    expect(err.message).toContain('(4112)');
  });
});

describe('parseOssecConf on a multi-server failover file', () => {
  const conf = parseOssecConf(fixture('failover.conf'));

  it('keeps every server in order with its own settings, in milliseconds', () => {
    expect(conf.options.servers).toEqual([
      { address: 'manager-1.example.com', port: 1514, protocol: 'tcp', maxRetries: 3, retryInterval: 5000 },
      { address: '192.168.10.2', port: 1515, protocol: 'tcp' },
      { address: '2001:db8::10', protocol: 'udp', maxRetries: 1, retryInterval: 30_000 },
    ]);
    expect(conf.options).toMatchObject({
      notifyTime: 10_000,
      timeReconnect: 60_000,
      forceReconnectInterval: 7_200_000,
      ipUpdateInterval: 120_000,
      autoRestart: true,
      cryptoMethod: 'aes',
      configProfile: 'debian, debian12',
    });
    expect(conf.ipUpdateInterval).toBe(120_000);
    expect(conf.configProfile).toBe('debian, debian12');
  });

  it('applies the 3 × notify_time rule only when resolving', () => {
    const xml = fixture('failover.conf').replace('<time-reconnect>60</time-reconnect>', '<time-reconnect>10</time-reconnect>');
    const conf2 = parseOssecConf(xml);
    expect(conf2.options.timeReconnect).toBe(10_000);
    expect(resolveOptions({ ...conf2.options, keys: KEYS }).timeReconnect).toBe(30_000);
  });

  it('fills defaults for the fields a server leaves out', () => {
    const r = resolveOptions({ ...conf.options, keys: KEYS });
    expect(r.servers[1]).toEqual({ address: '192.168.10.2', port: 1515, protocol: 'tcp', maxRetries: 5, retryInterval: 10_000 });
    expect(r.servers[2]?.port).toBe(1514);
  });
});

describe('parseOssecConf legacy and repeated elements', () => {
  it('reads legacy server-ip and server-hostname with the client-level port and protocol', () => {
    const conf = parseOssecConf(
      client(`<server-ip>10.1.1.1</server-ip>
        <server-hostname>legacy.example</server-hostname>
        <server><address>modern</address><port>2000</port></server>
        <port>1600</port>
        <protocol>udp</protocol>`),
    );
    expect(conf.options.servers).toEqual([
      { address: '10.1.1.1', port: 1600, protocol: 'udp' },
      { address: 'legacy.example', port: 1600, protocol: 'udp' },
      { address: 'modern', port: 2000, protocol: 'udp' },
    ]);
    expect(conf.warnings.filter((w) => w.includes('deprecated'))).toHaveLength(4);
  });

  it('adds the servers of later <client> blocks and lets them override scalars', () => {
    const xml = `<ossec_config>
      <client>${server}<notify_time>10</notify_time><crypto_method>blowfish</crypto_method></client>
      <client><server><address>m2</address></server><notify_time>30</notify_time></client>
    </ossec_config>`;
    const conf = parseOssecConf(xml);
    expect(conf.options.servers.map((s) => s.address)).toEqual(['m1', 'm2']);
    expect(conf.options.notifyTime).toBe(30_000);
    expect(conf.options.cryptoMethod).toBe('blowfish');
  });

  it('applies a legacy port only to the servers of its own <client> block', () => {
    const xml = `<ossec_config><client>${server}</client><client><server><address>m2</address></server><port>1600</port></client></ossec_config>`;
    expect(parseOssecConf(xml).options.servers).toEqual([{ address: 'm1' }, { address: 'm2', port: 1600 }]);
  });

  it('names the <client> block in errors when there are several', () => {
    const xml = `<ossec_config><client>${server}</client></ossec_config><ossec_config><client><server><address>x</address><port>0</port></server></client></ossec_config>`;
    expectConfigError(() => parseOssecConf(xml), 'client[2]/server/port', { value: '0' });
  });

  it('reads sections from every <ossec_config> root', () => {
    const xml = `<ossec_config><client>${server}</client></ossec_config>
      <!-- between roots -->
      <ossec_config><client_buffer><queue_size>100</queue_size></client_buffer></ossec_config>
      <ossec_config><labels><label key="env">prod</label></labels></ossec_config>`;
    const conf = parseOssecConf(xml);
    expect(conf.options.buffer).toEqual({ queueSize: 100 });
    expect(conf.options.labels).toEqual([{ key: 'env', value: 'prod', hidden: false }]);
  });

  it('ignores other root elements with a warning', () => {
    const conf = parseOssecConf(`<agent_config><client>${server}</client></agent_config>${client(server)}`);
    expect(conf.options.servers).toEqual([{ address: 'm1' }]);
    expect(conf.warnings.some((w) => w.includes('<agent_config>'))).toBe(true);
  });

  it('uses an interface index for an IPv6 link-local address and ignores it otherwise', () => {
    const conf = parseOssecConf(
      client(`<server><address>fe80::1</address><interface_index>3</interface_index></server>
              <server><address>m2</address><interface_index>3</interface_index></server>`),
    );
    expect(conf.options.servers.map((s) => s.address)).toEqual(['fe80::1%3', 'm2']);
    expect(conf.warnings.some((w) => w.includes('client/server[2]/interface_index'))).toBe(true);
  });

  it('skips an IPv6 link-local server without an interface index, and fails with (4114) when none is left', () => {
    const conf = parseOssecConf(client(`<server><address>fe80::1</address></server>${server}`));
    expect(conf.options.servers).toEqual([{ address: 'm1' }]);
    const err = expectConfigError(() => parseOssecConf(client('<server><address>fe80::1</address></server>')), 'client/server/address', {
      value: 'fe80::1',
    });
    expect(err.message).toContain('(4114)');
  });

  it('skips placeholder servers while another is usable', () => {
    const conf = parseOssecConf(client(`<server><address>0.0.0.0</address></server><server><address></address></server>${server}`));
    expect(conf.options.servers).toEqual([{ address: 'm1' }]);
    expect(conf.warnings).toHaveLength(2);
  });

  it('reads the remaining client elements', () => {
    const conf = parseOssecConf(
      client(`${server}<auto_restart>no</auto_restart><disable-active-response>yes</disable-active-response>
        <local_ip>10.0.0.5</local_ip><crypto_method>Blowfish</crypto_method><recv_timeout>30</recv_timeout>`),
    );
    expect(conf.autoRestart).toBe(false);
    expect(conf.options.autoRestart).toBe(false);
    expect(conf.disableActiveResponse).toBe(true);
    expect(conf.options.cryptoMethod).toBe('blowfish');
    expect(conf.warnings.some((w) => w.includes('client/local_ip'))).toBe(true);
    expect(conf.warnings.some((w) => w.includes('client/recv_timeout'))).toBe(true);
  });

  it('only warns about a bad force_reconnect_interval, as Wazuh does', () => {
    const conf = parseOssecConf(client(`${server}<force_reconnect_interval>soon</force_reconnect_interval>`));
    expect(conf.options.forceReconnectInterval).toBeUndefined();
    expect(conf.warnings.some((w) => w.includes('client/force_reconnect_interval'))).toBe(true);
  });
});

describe('parseOssecConf client_buffer', () => {
  it('reads the current element names', () => {
    const conf = parseOssecConf(client(server, '<client_buffer><disabled>yes</disabled><queue_size>100000</queue_size><events_per_second>1000</events_per_second></client_buffer>'));
    expect(conf.options.buffer).toEqual({ disabled: true, queueSize: 100_000, eventsPerSecond: 1000 });
  });

  it('reads the legacy <disable> and <length> with warnings', () => {
    const conf = parseOssecConf(client(server, '<client_buffer><disable>no</disable><length>42</length></client_buffer>'));
    expect(conf.options.buffer).toEqual({ disabled: false, queueSize: 42 });
    expect(conf.warnings).toHaveLength(2);
  });

  it('warns about a rate under 50 and lets resolveOptions raise it', () => {
    const conf = parseOssecConf(client(server, '<client_buffer><events_per_second>10</events_per_second></client_buffer>'));
    expect(conf.options.buffer?.eventsPerSecond).toBe(10);
    expect(conf.warnings[0]).toContain('set to 50 eps');
    expect(resolveOptions({ ...conf.options, keys: KEYS }).buffer.eventsPerSecond).toBe(50);
  });
});

describe('parseOssecConf enrollment and labels', () => {
  const conf = parseOssecConf(fixture('enrollment.conf'));

  it('reads the enrollment options and keeps file paths for loadEnrollmentFiles', () => {
    expect(conf.options.enrollment).toEqual({
      enabled: true,
      managerAddress: 'authd.example.com',
      port: 1516,
      agentName: 'web-01.prod',
      groups: ['default', 'web_servers', 'linux'],
      agentAddress: '192.168.1.50',
      delayAfterEnrollment: 5000,
    });
    expect(conf.enrollment).toEqual({
      autoMethod: false,
      sslCipher: 'HIGH:!ADH:!EXP:!MD5:!RC4:!3DES:!CAMELLIA:@STRENGTH',
      serverCaPath: 'etc/rootCA.pem',
      agentCertificatePath: 'etc/sslagent.cert',
      agentKeyPath: 'etc/sslagent.key',
      authorizationPassPath: 'etc/authd.pass',
    });
  });

  it('reads labels with the hidden attribute', () => {
    expect(conf.options.labels).toEqual([
      { key: 'aws.instance-id', value: 'i-052a1838c', hidden: false },
      { key: 'aws.sec-group', value: 'sg-1103', hidden: false },
      { key: 'network.ip', value: '172.17.0.0', hidden: true },
      { key: 'installation', value: 'January 1st, 2017', hidden: false },
    ]);
  });

  it('resolves into enabled enrollment', () => {
    const r = resolveOptions(conf.options);
    expect(r.enrollment).toMatchObject({ enabled: true, port: 1516, agentName: 'web-01.prod', delayAfterEnrollment: 5000 });
    expect(r.labels).toHaveLength(4);
  });

  it('turns use_source_ip into the agent address src', () => {
    const c = parseOssecConf(client(`${server}<enrollment><use_source_ip>yes</use_source_ip></enrollment>`));
    expect(c.options.enrollment?.agentAddress).toBe('src');
  });

  it('refuses use_source_ip together with agent_address', () => {
    expectConfigError(
      () => parseOssecConf(client(`${server}<enrollment><agent_address>10.0.0.1</agent_address><use_source_ip>yes</use_source_ip></enrollment>`)),
      'client/enrollment/use_source_ip',
      { value: 'yes' },
    );
  });

  it('lets the last definition of a label win, with a warning', () => {
    const c = parseOssecConf(client(server, '<labels><label key="a">1</label><label key="a" hidden="YES">2</label></labels>'));
    expect(c.options.labels).toEqual([{ key: 'a', value: '2', hidden: true }]);
    expect(c.warnings.some((w) => w.includes("label 'a'"))).toBe(true);
  });

  it('decodes entities and skips comments in values', () => {
    const c = parseOssecConf(
      client(`<server><address>m<!-- inline -->1</address></server>`, '<labels><label key="q">a &amp; b &lt;c&gt; &#65;&#x42;</label></labels>'),
    );
    expect(c.options.servers[0]?.address).toBe('m1');
    expect(c.options.labels?.[0]?.value).toBe('a & b <c> AB');
  });

  it("accepts a bare '&' in another section, as Wazuh does", () => {
    const c = parseOssecConf(client(server, '<localfile><command>uptime 2>&1 && echo ok</command></localfile>'));
    expect(c.options.servers).toEqual([{ address: 'm1' }]);
  });

  it('accepts an XML declaration, a DOCTYPE and a BOM', () => {
    const xml = `\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ossec_config [ <!ENTITY mgr "m9"> ]>\n<ossec_config><client><server><address>&mgr;</address></server></client></ossec_config>`;
    expect(parseOssecConf(xml).options.servers).toEqual([{ address: 'm9' }]);
  });

  it('trims values', () => {
    const c = parseOssecConf(client('<server>\n <address>\n  m1 \n</address>\n <port> 1600 </port></server>'));
    expect(c.options.servers).toEqual([{ address: 'm1', port: 1600 }]);
  });

  it("keeps '010' as the number 10", () => {
    expect(parseOssecConf(client(`${server}<notify_time>010</notify_time>`)).options.notifyTime).toBe(10_000);
  });
});

describe('parseOssecConf broken XML', () => {
  it('reports an unclosed tag with its position', () => {
    const xml = '<ossec_config>\n  <client>\n    <server>\n      <address>m1</address>\n  </client>\n</ossec_config>\n';
    const err = expectConfigError(() => parseOssecConf(xml), /^line \d+, column \d+$/, { code: 'ERR_CONFIG_XML' });
    expect(err.value).toEqual({ line: 5, column: 3 });
    expect(err.message).toMatch(/line 5, column 3/);
    expect(err.message).toContain("'server'");
  });

  it('reports garbage at line 1', () => {
    const err = expectConfigError(() => parseOssecConf('hello world'), /^line 1/, { code: 'ERR_CONFIG_XML' });
    expect(err.message).toContain('hello world');
  });

  it('reports an element left open at the end of the file', () => {
    const err = expectConfigError(() => parseOssecConf('<ossec_config>\n<client>\n'), /^line/, { code: 'ERR_CONFIG_XML' });
    expect(err.message).not.toContain('agentlink');
  });

  it('maps positions on the first line back to the original text', () => {
    const err = expectConfigError(() => parseOssecConf('<ossec_config><a x=1/></ossec_config>'), /^line 1/, { code: 'ERR_CONFIG_XML' });
    expect(err.value).toEqual({ line: 1, column: 18 });
  });

  it('maps positions after an escaped bare & back to the original text', () => {
    const err = expectConfigError(() => parseOssecConf('<ossec_config><c>a & b</d></ossec_config>'), /^line 1/, { code: 'ERR_CONFIG_XML' });
    expect(err.value).toEqual({ line: 1, column: 23 });
    expect(err.message).toContain("'c' (opened in line 1, column 15)");
  });

  it.each([
    ['empty text', ''],
    ['only a comment', '<!-- nothing -->'],
    ['text after the root', `${client(server)} trailing`],
    ['a mismatched tag', '<ossec_config></client>'],
    ['an unquoted attribute', '<ossec_config><labels><label key=a>v</label></labels></ossec_config>'],
    ['an unclosed comment', '<ossec_config><!-- </ossec_config>'],
    ['a reserved element name', `<ossec_config><__proto__>1</__proto__>${client(server)}</ossec_config>`],
  ])('reports %s as ERR_CONFIG_XML', (_name, xml) => {
    expectConfigError(() => parseOssecConf(xml), /./, { code: 'ERR_CONFIG_XML' });
  });

  it('rejects input that is not text', () => {
    expectConfigError(() => parseOssecConf(42 as unknown as string), 'ossec.conf', { code: 'ERR_CONFIG_XML' });
  });
});

describe('parseOssecConf impossible values name the element and the value', () => {
  const cases: Array<[string, string, string, unknown]> = [
    ['port 0', client('<server><address>m</address><port>0</port></server>'), 'client/server/port', '0'],
    ['port 65536', client(`${server}<server><address>m</address><port>65536</port></server>`), 'client/server[2]/port', '65536'],
    ['port text', client('<server><address>m</address><port>ssh</port></server>'), 'client/server/port', 'ssh'],
    ['negative port', client('<server><address>m</address><port>-1</port></server>'), 'client/server/port', '-1'],
    ['empty port', client('<server><address>m</address><port></port></server>'), 'client/server/port', ''],
    ['bad protocol', client('<server><address>m</address><protocol>sctp</protocol></server>'), 'client/server/protocol', 'sctp'],
    ['max_retries 0', client('<server><address>m</address><max_retries>0</max_retries></server>'), 'client/server/max_retries', '0'],
    ['retry_interval 0', client('<server><address>m</address><retry_interval>0</retry_interval></server>'), 'client/server/retry_interval', '0'],
    ['fractional retry', client('<server><address>m</address><retry_interval>1.5</retry_interval></server>'), 'client/server/retry_interval', '1.5'],
    ['interface_index 0', client('<server><address>m</address><interface_index>0</interface_index></server>'), 'client/server/interface_index', '0'],
    ['address with slash', client('<server><address>10.0.0.0/8</address></server>'), 'client/server/address', '10.0.0.0/8'],
    ['address with blank', client('<server><address>a b</address></server>'), 'client/server/address', 'a b'],
    ['server without address', client('<server><port>1514</port></server>'), 'client/server/address', undefined],
    ['unknown server element', client('<server><address>m</address><adress>n</adress></server>'), 'client/server/adress', 'adress'],
    ['unknown client element', client(`${server}<notifytime>5</notifytime>`), 'client/notifytime', 'notifytime'],
    ['unknown crypto method', client(`${server}<crypto_method>des</crypto_method>`), 'client/crypto_method', 'des'],
    ['negative notify_time', client(`${server}<notify_time>-5</notify_time>`), 'client/notify_time', '-5'],
    ['huge notify_time', client(`${server}<notify_time>99999999999</notify_time>`), 'client/notify_time', '99999999999'],
    ['time-reconnect text', client(`${server}<time-reconnect>1m</time-reconnect>`), 'client/time-reconnect', '1m'],
    ['ip_update_interval', client(`${server}<ip_update_interval>x</ip_update_interval>`), 'client/ip_update_interval', 'x'],
    ['auto_restart', client(`${server}<auto_restart>maybe</auto_restart>`), 'client/auto_restart', 'maybe'],
    ['disable-active-response', client(`${server}<disable-active-response>1</disable-active-response>`), 'client/disable-active-response', '1'],
    ['legacy port', client(`${server}<port>99999</port>`), 'client/port', '99999'],
    ['legacy protocol', client(`${server}<protocol>http</protocol>`), 'client/protocol', 'http'],
    ['legacy server-ip', client('<server-ip>manager.example</server-ip>'), 'client/server-ip', 'manager.example'],
    ['buffer disabled', client(server, '<client_buffer><disabled>nope</disabled></client_buffer>'), 'client_buffer/disabled', 'nope'],
    ['queue_size 0', client(server, '<client_buffer><queue_size>0</queue_size></client_buffer>'), 'client_buffer/queue_size', '0'],
    ['queue_size 100001', client(server, '<client_buffer><queue_size>100001</queue_size></client_buffer>'), 'client_buffer/queue_size', '100001'],
    ['eps 0', client(server, '<client_buffer><events_per_second>0</events_per_second></client_buffer>'), 'client_buffer/events_per_second', '0'],
    ['eps 1001', client(server, '<client_buffer><events_per_second>1001</events_per_second></client_buffer>'), 'client_buffer/events_per_second', '1001'],
    ['unknown buffer element', client(server, '<client_buffer><size>1</size></client_buffer>'), 'client_buffer/size', 'size'],
    ['enrollment enabled', client(`${server}<enrollment><enabled>on</enabled></enrollment>`), 'client/enrollment/enabled', 'on'],
    ['enrollment port 0', client(`${server}<enrollment><port>0</port></enrollment>`), 'client/enrollment/port', '0'],
    ['agent_name', client(`${server}<enrollment><agent_name>bad name</agent_name></enrollment>`), 'client/enrollment/agent_name', 'bad name'],
    ['group', client(`${server}<enrollment><groups>ok,bad group</groups></enrollment>`), 'client/enrollment/groups', 'bad group'],
    ['agent_address', client(`${server}<enrollment><agent_address>nowhere</agent_address></enrollment>`), 'client/enrollment/agent_address', 'nowhere'],
    ['manager_address', client(`${server}<enrollment><manager_address>a/b</manager_address></enrollment>`), 'client/enrollment/manager_address', 'a/b'],
    ['delay 0', client(`${server}<enrollment><delay_after_enrollment>0</delay_after_enrollment></enrollment>`), 'client/enrollment/delay_after_enrollment', '0'],
    ['empty ca path', client(`${server}<enrollment><server_ca_path></server_ca_path></enrollment>`), 'client/enrollment/server_ca_path', ''],
    ['unknown enrollment element', client(`${server}<enrollment><password>x</password></enrollment>`), 'client/enrollment/password', 'password'],
    ['label without key', client(server, '<labels><label>v</label></labels>'), 'labels/label[1]/@key', undefined],
    ['label with empty key', client(server, '<labels><label key="">v</label></labels>'), 'labels/label[1]/@key', ''],
    ['label hidden', client(server, '<labels><label key="k" hidden="true">v</label></labels>'), 'labels/label[1]/@hidden', 'true'],
    ['label attribute', client(server, '<labels><label key="k" color="red">v</label></labels>'), 'labels/label[1]/@color', 'color'],
    ['label key with a quote', client(server, '<labels><label key=\'a"b\'>v</label></labels>'), 'labels/label[1]', 'a"b'],
    ['label other element', client(server, '<labels><tag key="k">v</tag></labels>'), 'labels/tag', 'tag'],
    ['no client', '<ossec_config><syscheck/></ossec_config>', 'client', undefined],
    ['client without server', client('<notify_time>10</notify_time>'), 'client/server', undefined],
    ['no ossec_config', '<agent_config/>', 'ossec_config', 'agent_config'],
  ];

  it.each(cases)('rejects %s', (_name, xml, element, value) => {
    const err = expectConfigError(() => parseOssecConf(xml), element, { value });
    expect(err.message).toContain(element === 'client/server' || element === 'client' ? '(4105)' : element.replace(/\/@.*$/, ''));
  });
});

describe('parseOssecConf robustness', () => {
  it('throws nothing but ConfigError for 2000 seeded random mutations of the default file', () => {
    const base = fixture('agent-default.conf') + fixture('enrollment.conf');
    let seed = 0x5eed1234;
    const rand = (n: number): number => {
      // xorshift32: deterministic, so a failure reproduces
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const alphabet = '<>/&;"\'=!?-[]# \nabcdefxyz0123456789';
    const tokens = ['<', '>', '</', '/>', '&', '&amp;', '&#', '<!--', '-->', '<![CDATA[', ']]>', '"', "'", '<client>', '</client>', '<server>', '<port>', '99999', '-1', 'MANAGER_IP', '\u0000', '\uFEFF', '<?xml?>', '<!DOCTYPE x [', '__proto__'];
    const outcomes = { ok: 0, config: 0 };
    for (let i = 0; i < 2000; i++) {
      let s = base;
      const edits = 1 + rand(4);
      for (let e = 0; e < edits; e++) {
        const at = rand(s.length + 1);
        switch (rand(5)) {
          case 0: // delete a span
            s = s.slice(0, at) + s.slice(at + 1 + rand(20));
            break;
          case 1: // insert a character
            s = s.slice(0, at) + alphabet[rand(alphabet.length)] + s.slice(at);
            break;
          case 2: // insert a token
            s = s.slice(0, at) + tokens[rand(tokens.length)] + s.slice(at);
            break;
          case 3: // replace a character
            s = s.slice(0, at) + alphabet[rand(alphabet.length)] + s.slice(at + 1);
            break;
          default: // duplicate a span
            s = s.slice(0, at) + s.slice(at, at + rand(200)) + s.slice(at);
        }
      }
      try {
        parseOssecConf(s);
        outcomes.ok++;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`mutation ${i} threw ${String(err)}`, { cause: err });
        expect(['ERR_CONFIG', 'ERR_CONFIG_XML']).toContain(err.code);
        outcomes.config++;
      }
    }
    // Both outcomes must occur, or the mutations are not exercising the parser.
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.config).toBeGreaterThan(0);
  });
});
