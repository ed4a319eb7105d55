/**
 * The real Wazuh agent (wazuh-agentd 4.14.7) against MockManager: handshake, keepalives, events
 * from its local queue, both ciphers, both transports. Agents run concurrently (each test has its
 * own manager and agent home).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { describeIfRealAgent, managerWithKey, queueMessage, startRealAgent, stopAllRealAgents } from '../../helpers/real-agent.js';

afterAll(stopAllRealAgents);


await describeIfRealAgent('wazuh-agentd 4.14.7 against MockManager: handshake and events', () => {
  describe.concurrent('handshake', () => {
    it('the manager parses the real keepalive (uname, version, labels, merged.mg sum, agent IP), shows the agent active, and its records agree with agentd\'s state file', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const startups: string[] = [];
      const seen: { type: string; at: number; raw: string }[] = [];
      manager.on('control', (_id, m, raw) => {
        seen.push({ type: m.type, at: Date.now(), raw });
        if (m.type === 'startup') startups.push(JSON.stringify(m));
      });
      // notify_time 3: between two keepalives the state file (rewritten every second) is quiet
      const agent = await startRealAgent(ctx, {
        servers: [{ port: manager.port }],
        key,
        notifyTime: 3,
        labels: { 'aws.instance-id': 'i-0abc', environment: 'ci', token: { value: 's3cr3t', hidden: true } },
      });
      const [record] = await manager.waitForAgents(1, { timeout: 15_000 });
      expect(startups).toHaveLength(1);
      expect(JSON.parse(startups[0]!)).toMatchObject({ version: 'v4.14.7' });
      const keepaliveLine = (await agent.waitForLog(/Sending keep alive: #!-/)).replace(/.*Sending keep alive: #!-/, '');
      expect(record!.uname).toBe(keepaliveLine);
      // 4.14.7 sends its first keepalive notify_time after connecting, not at once
      const [startup, keepalive] = [seen.find((c) => c.type === 'startup')!, seen.find((c) => c.type === 'keepalive')!];
      expect(startup.raw).toBe('#!-agent startup {"version":"v4.14.7"}');
      expect(keepalive.at - startup.at).toBeGreaterThanOrEqual(1_500); // notify_time is 3 s; at once would be a few ms
      expect(record!.keepaliveText).toMatch(/^#!-Linux .* - Wazuh v4\.14\.7\n"aws\.instance-id":i-0abc\n"environment":ci\n!"token":s3cr3t\nd41d8cd98f00b204e9800998ecf8427e merged\.mg\n#"_agent_ip":[0-9.]+\n$/);
      expect(record!.version).toBe('v4.14.7');
      expect(record!.method).toBe('aes');
      expect(record!.protocol).toBe('tcp');
      expect(record!.os).toMatchObject({ sysname: 'Linux', agentVersion: 'v4.14.7' });
      // the OS as a manager's agent list shows it (remoted's parse_uname_string): agentd reports the
      // host's /etc/os-release NAME, ID and VERSION; remoted keeps the codename apart
      const osRelease = Object.fromEntries(
        readFileSync('/etc/os-release', 'utf8')
          .split('\n')
          .map((l) => /^([A-Z_]+)=(.*)$/.exec(l))
          .filter((m) => m !== null)
          .map((m) => [m[1], m[2]!.replace(/^"(.*)"$/, '$1')]),
      ) as Record<string, string | undefined>;
      const [version, codename] = osRelease.VERSION?.split(' (') ?? []; // a rolling distribution has no VERSION
      expect(record!.os).toMatchObject({ osName: osRelease.NAME, osPlatform: osRelease.ID, osVersion: version, osCodename: codename?.replace(/\)$/, '') });
      expect(record!.labels).toEqual([
        { key: 'aws.instance-id', value: 'i-0abc' },
        { key: 'environment', value: 'ci' },
        { key: 'token', value: 's3cr3t', hidden: true },
      ]);
      // an empty merged.mg: the md5 of nothing
      expect(record!.mergedSum).toBe('d41d8cd98f00b204e9800998ecf8427e');
      expect(record!.agentIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

      // agentd counts every message it sent (msg_sent); the manager every valid message it got
      const state = await agent.waitForState((s) => s.status === 'connected' && Number(s.msg_sent) === manager.agent(key.id)?.messages, 12_000);
      expect(state.last_ack).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
      expect(manager.stats().agents[key.id]).toMatchObject({ status: 'active', connected: true, method: 'aes', protocol: 'tcp', sessions: 1 });

      // SIGTERM: agentd says goodbye; the manager marks it disconnected and records remoted's event
      await agent.stop();
      await manager.waitForAgents(1, { status: 'disconnected', timeout: 5_000 });
      expect(manager.receivedEvents(key.id).at(-1)).toMatchObject({ generated: true, message: `ossec: Agent stopped: '${key.name}->any'.` });
    }, 40_000);
  });

  describe.concurrent('events from the local queue', () => {
    it('arrive byte for byte and in order: locations with ":" and "|", non-ASCII text, JSON, 60 KB lines', async (ctx) => {
      const { manager, key } = await managerWithKey(ctx);
      const agent = await startRealAgent(ctx, { servers: [{ port: manager.port }], key });
      await manager.waitForAgents(1, { timeout: 15_000 });
      const events = [
        { queue: '1', location: '/var/log/auth.log', message: 'sshd[42]: Accepted publickey for admin from 10.0.0.1 port 52144' },
        { queue: '1', location: 'C:\\Program Files\\app\\log.txt', message: 'Windows path: C:\\temp' },
        { queue: '1', location: 'host:514|udp', message: 'a: b: c: colons | bars || end' },
        { queue: '1', location: '/var/log/ünïcödé/日本語.log', message: 'Grüße, 世界 🌍 — ñ ç ø' },
        { queue: '8', location: 'syscheck', message: JSON.stringify({ type: 'event', data: { path: '/etc/passwd', mode: 'realtime' } }) },
        { queue: 'x', location: 'custom', message: `${'0123456789abcdef'.repeat(3800)}tail` },
      ];
      await agent.inject(events.map((e) => queueMessage(e.queue, e.location, e.message)));
      const got = await manager.waitForEvents((e) => e.agentId === key.id && !e.generated && e.location !== 'wazuh-agent', { count: events.length, timeout: 15_000 });
      expect(got.map(({ queue, location, message }) => ({ queue, location, message }))).toEqual(events);
      // agentd's own startup event comes first
      expect(manager.receivedEvents(key.id)[0]).toMatchObject({ location: 'wazuh-agent', message: 'ossec: Agent started: \'' + key.name + '->any\'.' });
      expect((await agent.waitForState((s) => Number(s.msg_count) >= events.length)).msg_count).toBe(String(events.length));
    }, 40_000);

    for (const [cryptoMethod, protocol] of [
      ['aes', 'tcp'],
      ['blowfish', 'tcp'],
      ['aes', 'udp'],
      ['blowfish', 'udp'],
    ] as const) {
      it(`${cryptoMethod} over ${protocol}: the handshake, keepalives and events work and the manager replies with the agent's cipher`, async (ctx) => {
        const { manager, key } = await managerWithKey(ctx, { protocols: ['tcp', 'udp'] });
          const agent = await startRealAgent(ctx, { servers: [{ port: manager.port, protocol }], key, cryptoMethod });
        const [record] = await manager.waitForAgents(1, { timeout: 15_000 });
        expect(record).toMatchObject({ method: cryptoMethod, protocol, status: 'active' });
        await agent.waitForLog(cryptoMethod === 'aes' ? 'Using AES as encryption method.' : 'Using Blowfish as encryption method.');
        await agent.waitForLog(`(4102): Connected to the server ([127.0.0.1]:${manager.port}/${protocol})`);
        // the ACKs the manager sent decrypted on the agent
        await agent.waitForLog("Received message: '#!-agent ack '");
        await agent.inject([queueMessage('1', `/tmp/${cryptoMethod}-${protocol}`, `hello over ${protocol}`)]);
        const [event] = await manager.waitForEvents((e) => e.location === `/tmp/${cryptoMethod}-${protocol}`, { timeout: 10_000 });
        expect(event).toMatchObject({ message: `hello over ${protocol}`, protocol });
        expect(manager.stats().decodeErrors).toBe(0);
        expect(agent.log()).not.toMatch(/\(1214\)|\(1404\)/);
      }, 40_000);
    }
  });
});
