import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DecodeError, StateError } from '../../../src/index.js';
import { parseMergedMg } from '../../../src/protocol/merged.js';
import { buildRequestReply } from '../../../src/protocol/messages.js';
import { KeyStore, MockManager, createMemoryNetwork } from '../../../src/testing/index.js';
import type { AgentStatus, MemoryNetwork, MockManagerOptions } from '../../../src/testing/index.js';
import type { AgentKey, CryptoMethod } from '../../../src/index.js';
import { VECTORS, VECTOR_KEY, sleep, until, useCleanup } from './fixtures.js';
import { ACK, KEEPALIVE, RawAgent, SHUTDOWN, STARTUP, keepaliveWithSum } from './raw-agent.js';

const cleanup = useCleanup();

/** Where the suite runs: the manager listens through its Listener seam on real sockets or on the in-memory network. */
interface Net {
  name: string;
  /** Real sockets: the tests below the framing (partial and oversize frames, a paused reader) run only here. */
  real: boolean;
  manager(opts?: MockManagerOptions): Promise<MockManager>;
  tcp(m: MockManager, key: AgentKey, method?: CryptoMethod): Promise<RawAgent>;
  udp(m: MockManager, key: AgentKey, method?: CryptoMethod): Promise<RawAgent>;
  /** What a new TCP connect to the manager's port gets: `connected` or the system error code. */
  connectResult(m: MockManager): Promise<string>;
}

const memoryNetworks = new WeakMap<MockManager, MemoryNetwork>();

async function started(m: MockManager): Promise<MockManager> {
  cleanup(() => m.close());
  await m.start();
  return m;
}

function registered(a: RawAgent): RawAgent {
  cleanup(() => a.close());
  return a;
}

const NETS: Net[] = [
  {
    name: 'real sockets',
    real: true,
    manager: (opts = {}) => started(new MockManager(opts)),
    tcp: async (m, key, method = 'aes') => registered(await RawAgent.tcp(key, m.port, method)),
    udp: async (m, key, method = 'aes') => registered(await RawAgent.udp(key, m.port, method)),
    connectResult: (m) =>
      new Promise<string>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: m.port });
        s.on('connect', () => {
          s.destroy();
          resolve('connected');
        });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      }),
  },
  {
    name: 'the in-memory network',
    real: false,
    manager: (opts = {}) => {
      const network = createMemoryNetwork();
      const m = new MockManager({ ...opts, listener: network.listenerFactory });
      memoryNetworks.set(m, network);
      return started(m);
    },
    tcp: async (m, key, method = 'aes') => registered(await RawAgent.over(memoryNetworks.get(m)!.factory, key, m.port, 'tcp', method)),
    udp: async (m, key, method = 'aes') => registered(await RawAgent.over(memoryNetworks.get(m)!.factory, key, m.port, 'udp', method)),
    connectResult: async (m) => {
      const t = memoryNetworks.get(m)!.factory({ address: '127.0.0.1', port: m.port, protocol: 'tcp' }, { connectTimeout: 1000 });
      try {
        await t.connect();
        t.destroy();
        return 'connected';
      } catch (err) {
        return ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? 'error';
      }
    },
  },
];

for (const net of NETS) {
  const startManager = (opts: MockManagerOptions = {}): Promise<MockManager> => net.manager(opts);
  const agentOn = (m: MockManager, key: AgentKey = m.keyStore.list()[0]!, method: CryptoMethod = 'aes'): Promise<RawAgent> => net.tcp(m, key, method);
  const agentVectors = VECTORS.vectors.filter((v) => !v.id.includes('manager'));

  describe(`MockManager decodes every agent-to-manager vector over TCP (${net.name})`, () => {
    for (const split of ['one write', 'byte by byte'] as const) {
      // Byte by byte is below the framing: only real sockets have bytes.
      (split === 'byte by byte' && !net.real ? it.skip : it)(`accepts each agent vector fed ${split}, ACKs startup and keepalive with the agent key`, async () => {
        const keys = new KeyStore([VECTOR_KEY]);
        const m = await startManager({ keys });
        expect(agentVectors.length).toBeGreaterThanOrEqual(10);
        for (const v of agentVectors) {
          // The single-host vector has no !id! header: the manager finds the key by source IP.
          if (!v.inputs.id_header) {
            keys.remove('001');
            keys.add({ ...VECTOR_KEY, ip: '127.0.0.1' });
          } else if (keys.get('001')?.ip !== 'any') {
            keys.remove('001');
            keys.add(VECTOR_KEY);
          }
          const key = keys.get('001')!;
          const a = await net.tcp(m, key, v.inputs.method);
          const before = m.stats().messagesReceived;
          const eventsBefore = m.stats().eventsReceived;
          const frame = Buffer.from(v.expected.tcp_frame_hex, 'hex');
          if (!net.real) a.sendPayload(Buffer.from(v.expected.payload_hex, 'hex'));
          else if (split === 'one write') a.writeRaw(frame);
          else {
            for (const b of frame) {
              a.writeRaw(Buffer.from([b]));
              await new Promise((r) => setImmediate(r));
            }
          }
          await until(() => m.stats().messagesReceived > before, 3000);
          const msg = v.inputs.message_ascii ?? '1:/var/log/syslog:Jan  1 00:00:00 host test: hello world';
          const rec = m.agent('001')!;
          expect(rec.method, v.id).toBe(v.inputs.method);
          if (msg.startsWith('#!-agent startup') || (msg.startsWith('#!-') && msg.includes('\n'))) {
            const reply = await a.next();
            expect(reply.text, v.id).toBe(ACK);
            expect(rec.status).toBe(msg.startsWith('#!-agent startup') ? 'pending' : 'active');
          } else if (msg === SHUTDOWN) {
            expect(rec.status).toBe('disconnected');
            expect(await a.silentFor(50)).toBe(true);
          } else {
            expect(m.stats().eventsReceived, v.id).toBe(eventsBefore + 1);
            const ev = m.receivedEvents('001').at(-1)!;
            expect(`${ev.queue}:${ev.location}:${ev.message}`, v.id).toBe(msg);
            expect(await a.silentFor(50)).toBe(true);
          }
          expect(a.closed, v.id).toBe(false);
          a.close();
        }
        expect(m.stats().decodeErrors).toBe(0);
      });
    }

    it('rejects every negative vector, counting it and closing the connection', async () => {
      const m = await startManager({ keys: [VECTOR_KEY] });
      for (const v of VECTORS.negative_vectors) {
        const errors = m.stats().decodeErrors;
        const a = await agentOn(m, VECTOR_KEY);
        a.sendPayload(Buffer.from(v.payload_hex, 'hex'));
        expect(await a.waitClosed(), v.id).toBe(true);
        expect(m.stats().decodeErrors, v.id).toBe(errors + 1);
      }
    });
  });

  describe(`MockManager protocol behaviour (${net.name})`, () => {
    it('answers #ping with #pong on TCP and UDP without touching agent state', async () => {
      const m = await startManager({ keys: [VECTOR_KEY], protocols: ['tcp', 'udp'] });
      const a = await agentOn(m, VECTOR_KEY);
      a.sendPayload(Buffer.from('#ping'));
      expect((await a.next()).raw.toString()).toBe('#pong');
      const u = await net.udp(m, VECTOR_KEY);
      cleanup(() => u.close());
      u.sendPayload(Buffer.from('#ping'));
      expect((await u.next()).raw.toString()).toBe('#pong');
      expect(m.stats().pings).toBe(2);
      expect(m.agent('001')!.status).toBe('never_connected');
    });

    it('binds TCP and UDP on the same port number', async () => {
      const m = await startManager({ keys: [VECTOR_KEY], protocols: ['tcp', 'udp'] });
      const ports = { tcp: m.port };
      expect(ports.tcp).toBeGreaterThan(0);
      const u = await net.udp(m, VECTOR_KEY);
      cleanup(() => u.close());
      expect(await u.handshake()).toBe(ACK);
      expect(m.agent('001')!.protocol).toBe('udp');
    });

    it('walks never_connected -> pending -> active -> disconnected and emits each change', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys });
      const changes: [string, AgentStatus, AgentStatus][] = [];
      m.on('agentStatus', (id, to, from) => changes.push([id, to, from]));
      expect(m.agent(k!.id)!.status).toBe('never_connected');
      const a = await agentOn(m, k);
      expect(await a.handshake()).toBe(ACK);
      expect(m.agent(k!.id)!.status).toBe('pending');
      a.send(KEEPALIVE);
      expect((await a.next()).text).toBe(ACK);
      const rec = m.agent(k!.id)!;
      expect(rec.status).toBe('active');
      expect(rec.connected).toBe(true);
      expect(rec.version).toBe('v4.14.7');
      expect(rec.labels).toEqual([{ key: 'env', value: 'prod' }]);
      expect(rec.agentIp).toBe('127.0.0.1');
      expect(rec.mergedSum).toBe('x');
      expect(rec.os?.osPlatform).toBe('ubuntu');
      a.send(SHUTDOWN);
      await until(() => m.agent(k!.id)!.status === 'disconnected');
      expect(await a.silentFor(50)).toBe(true);
      expect(changes).toEqual([
        [k!.id, 'pending', 'never_connected'],
        [k!.id, 'active', 'pending'],
        [k!.id, 'disconnected', 'active'],
      ]);
      const stopped = m.receivedEvents(k!.id).find((e) => e.generated);
      expect(stopped?.message).toBe(`ossec: Agent stopped: '${k!.name}->any'.`);
      expect(stopped?.location).toBe('wazuh-remoted');
    });

    it('keeps an agent active after its connection closes until agentsDisconnectionTime, while connected turns false at once', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, agentsDisconnectionTime: 300 });
      const a = await agentOn(m, k);
      await a.handshake();
      a.send(KEEPALIVE);
      await a.next();
      a.close();
      await until(() => !m.agent(k!.id)!.connected);
      expect(m.agent(k!.id)!.status).toBe('active');
      await until(() => m.agent(k!.id)!.status === 'disconnected', 3000);
    });

    it('marks an agent disconnected when its connection closes with disconnectOnClose', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, disconnectOnClose: true });
      const a = await agentOn(m, k);
      await a.handshake();
      a.close();
      await until(() => m.agent(k!.id)!.status === 'disconnected');
    });

    it('refuses a startup from a newer agent with #!-err and no ACK, and an unreadable version', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, managerVersion: 'v4.8.0' });
      const a = await agentOn(m, k);
      a.send('#!-agent startup {"version":"v4.9.1"}');
      expect((await a.next()).text).toBe('#!-err {"message":"Agent version must be lower or equal to manager version"}');
      expect(m.agent(k!.id)!.status).toBe('never_connected');
      expect(m.agent(k!.id)!.statusCode).toBe('invalid_version');
      a.send('#!-agent startup {"name":"x"}');
      expect((await a.next()).text).toBe(`#!-err {"message":"Couldn't retrieve version"}`);
      a.send('#!-agent startup {"version":"v4.8.2"}');
      expect((await a.next()).text).toBe(ACK);
      a.send('#!-agent startup ');
      expect((await a.next()).text).toBe(ACK);
      expect(m.agent(k!.id)!.status).toBe('pending');
    });

    it('gives no ACK to a control message without a newline and counts it', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys });
      const a = await agentOn(m, k);
      a.send('#!-no newline here');
      expect(await a.silentFor(100)).toBe(true);
      expect(m.stats().invalidControl).toBe(1);
      expect(a.closed).toBe(false);
    });

    it('replies in the method each agent uses, with no id header and its own increasing counter', async () => {
      const keys = new KeyStore();
      const [k1, k2] = keys.generate(2);
      const m = await startManager({ keys });
      const bf = await agentOn(m, k1, 'blowfish');
      const aes = await agentOn(m, k2, 'aes');
      bf.send(STARTUP);
      const r1 = await bf.next();
      aes.send(STARTUP);
      const r2 = await aes.next();
      expect(r1.text).toBe(ACK);
      expect(r2.text).toBe(ACK);
      expect(r1.raw[0]).toBe(0x3a); // ':' Blowfish, no '!id!'
      expect(r2.raw.subarray(0, 5).toString()).toBe('#AES:');
      expect(m.agent(k1!.id)!.method).toBe('blowfish');
    });

    it('records events with the agent id, queue, unescaped location, node and time', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, name: 'node7' });
      const a = await agentOn(m, k);
      const it = m.events();
      a.send('1:C|:\\logs\\app.log:some line');
      a.send('8:syscheck:{"x":1}');
      const got = await m.waitForEvents(2);
      expect(got.map((e) => [e.agentId, e.queue, e.location, e.message, e.node])).toEqual([
        [k!.id, '1', 'C:\\logs\\app.log', 'some line', 'node7'],
        [k!.id, '8', 'syscheck', '{"x":1}', 'node7'],
      ]);
      expect(got[0]!.receivedAt).toBeGreaterThan(Date.now() - 5000);
      const first = await it.next();
      expect(first.value?.message).toBe('some line');
      // events are not control messages: no reply channel, agent not connected
      expect(m.agent(k!.id)!.connected).toBe(false);
      expect(m.agent(k!.id)!.events).toBe(2);
      await m.close();
      expect((await it.next()).value?.message).toBe('{"x":1}');
      expect((await it.next()).done).toBe(true);
    });

    it("waitForEvents(n) counts the agent program's events, not the agent's own notices or the manager's generated ones", async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys });
      const a = await agentOn(m, k);
      a.send("1:wazuh-agent:ossec: Agent started: 'x->any'."); // what every agent sends after its first ACK
      a.send('1:app:one');
      a.send('1:app:two');
      const got = await m.waitForEvents(2);
      expect(got.map((e) => e.message)).toEqual(['one', 'two']);
      expect(m.receivedEvents().map((e) => e.message)).toEqual(["ossec: Agent started: 'x->any'.", 'one', 'two']);
      const [started] = await m.waitForEvents((e) => e.location === 'wazuh-agent');
      expect(started!.message).toMatch(/^ossec: Agent started/);
    });

    it('waitForEvents and waitForAgents reject with ERR_TIMEOUT', async () => {
      const m = await startManager({ keys: new KeyStore() });
      await expect(m.waitForEvents(1, { timeout: 50 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
      await expect(m.waitForAgents(1, { timeout: 50 })).rejects.toBeInstanceOf(StateError);
    });

    it('closes the connection of an unknown agent, a wrong key, and a bad source IP, counting each', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys });
      const decodeErrors: DecodeError[] = [];
      m.on('decodeError', (e) => decodeErrors.push(e));
      const unknown = await agentOn(m, { ...k!, id: '999' });
      unknown.send(STARTUP);
      expect(await unknown.waitClosed()).toBe(true);
      const wrong = await agentOn(m, { ...k!, key: 'f'.repeat(64) });
      wrong.send(STARTUP);
      expect(await wrong.waitClosed()).toBe(true);
      keys.add({ id: '050', name: 'pinned', ip: '10.9.9.9', key: 'a'.repeat(64) });
      const badIp = await agentOn(m, { id: '050', name: 'pinned', ip: 'any', key: 'a'.repeat(64) });
      badIp.send(STARTUP);
      expect(await badIp.waitClosed()).toBe(true);
      const s = m.stats();
      expect(s.unknownAgents).toBe(2);
      expect(s.decodeErrors).toBe(3);
      expect(s.decodeErrorsByCode.ERR_DECODE_UNKNOWN_AGENT).toBe(2);
      expect(s.decodeErrorsByCode.ERR_DECODE_DECRYPT ?? 0).toBeGreaterThan(0);
      expect(decodeErrors.map((e) => e.agentId)).toEqual(['999', k!.id, '050']);
    });

    it('closes connections beyond maxConnections at once', async () => {
      const keys = new KeyStore();
      const k = keys.generate(3);
      const m = await startManager({ keys, maxConnections: 2 });
      const a = await agentOn(m, k[0]);
      const b = await agentOn(m, k[1]);
      const c = await agentOn(m, k[2]);
      expect(await c.waitClosed()).toBe(true);
      expect(await a.handshake()).toBe(ACK);
      expect(await b.handshake()).toBe(ACK);
      expect(m.stats().connectionsRefused).toBe(1);
    });

    it('rejects impossible options with a ConfigError naming the option', () => {
      expect(() => new MockManager({ port: 70000 })).toThrow(/port/);
      expect(() => new MockManager({ protocols: [] })).toThrow(/protocols/);
      expect(() => new MockManager({ managerVersion: 'latest' })).toThrow(/managerVersion/);
      expect(() => new MockManager({ connectionOvertakeTime: -1 })).toThrow(/connectionOvertakeTime/);
      expect(() => new MockManager({ keys: '001 bad\n' })).toThrow(/client.keys line 1/);
    });

    (net.real ? it : it.skip)('closes a connection whose frame announces more than 65536 bytes (below the framing: real sockets)', async () => {
      const m = await startManager({ keys: new KeyStore() });
      const a = await agentOn(m, VECTOR_KEY);
      const h = Buffer.alloc(4);
      h.writeUInt32LE(65537);
      a.writeRaw(h);
      expect(await a.waitClosed()).toBe(true);
      expect(m.stats().framesTooLarge).toBe(1);
    });

    (net.real ? it : it.skip)('closes a slowloris connection that holds a partial frame longer than frameDeadlineMs (below the framing: real sockets)', async () => {
      const m = await startManager({ keys: new KeyStore(), frameDeadlineMs: 150 });
      const a = await agentOn(m, VECTOR_KEY);
      const h = Buffer.alloc(4);
      h.writeUInt32LE(1000);
      a.writeRaw(h);
      const timer = setInterval(() => {
        if (!a.closed) a.writeRaw(Buffer.from([0x41]));
      }, 20);
      cleanup(() => clearInterval(timer));
      expect(await a.waitClosed(3000)).toBe(true);
      expect(m.stats().slowConnectionsClosed).toBe(1);
    });
  });

  describe(`MockManager connection overtake (protocol.md 8.2) (${net.name})`, () => {
    it('closes the NEW connection while the old socket is not silent (Agent key already in use)', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, connectionOvertakeTime: 10_000 });
      const first = await agentOn(m, k);
      expect(await first.handshake()).toBe(ACK);
      const second = await agentOn(m, k);
      second.send(STARTUP);
      expect(await second.waitClosed()).toBe(true);
      expect(first.closed).toBe(false);
      first.send(KEEPALIVE);
      expect((await first.next()).text).toBe(ACK);
      expect(m.stats().keyInUseRejections).toBe(1);
    });

    it('lets a new connection take over when the old socket was silent longer than connectionOvertakeTime', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, connectionOvertakeTime: 100 });
      const first = await agentOn(m, k);
      expect(await first.handshake()).toBe(ACK);
      await sleep(250);
      const second = await agentOn(m, k);
      expect(await second.handshake()).toBe(ACK);
      expect(await first.waitClosed()).toBe(true);
      expect(m.stats().overtakes).toBe(1);
      expect(m.agent(k!.id)!.connected).toBe(true);
      expect(m.agent(k!.id)!.sessions).toBe(2);
    });

    it('never overtakes when connectionOvertakeTime is 0', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, connectionOvertakeTime: 0 });
      const first = await agentOn(m, k);
      await first.handshake();
      await sleep(30);
      const second = await agentOn(m, k);
      second.send(STARTUP);
      expect(await second.waitClosed()).toBe(true);
    });
  });

  describe(`MockManager commands (${net.name})`, () => {
    it('pushes merged.mg after a keepalive with a different sum; the agent rebuilds it and the md5 matches', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const big = 'x'.repeat(2500) + '\n<agent_config/>\n';
      const m = await startManager({ keys, sharedFiles: { default: [{ name: 'agent.conf', content: big }, { name: 'extra.txt', content: 'hello' }] } });
      const a = await agentOn(m, k);
      await a.handshake();
      a.send(KEEPALIVE);
      expect((await a.next()).text).toBe(ACK);
      const open = await a.next();
      const m1 = /^#!-up file ([0-9a-f]{32}) merged\.mg\n$/.exec(open.text!);
      expect(m1).not.toBeNull();
      const chunks: Buffer[] = [];
      for (;;) {
        const msg = await a.next();
        if (msg.text === '#!-close file ') break;
        expect(msg.data!.length).toBeLessThanOrEqual(900);
        chunks.push(msg.data!);
      }
      const file = Buffer.concat(chunks);
      expect(chunks.length).toBeGreaterThan(2);
      expect(createHash('md5').update(file).digest('hex')).toBe(m1![1]);
      expect(m.sharedFilesSum('default')).toBe(m1![1]);
      const parsed = parseMergedMg(file);
      expect(parsed.group).toBe('default');
      expect(parsed.files.map((f) => [f.name, f.content.toString()])).toEqual([
        ['agent.conf', big],
        ['extra.txt', 'hello'],
      ]);
      // With the right sum the manager only ACKs.
      a.send(keepaliveWithSum(m1![1]!));
      expect((await a.next()).text).toBe(ACK);
      expect(await a.silentFor(100)).toBe(true);
      expect(m.stats().filesPushed).toBe(1);
    });

    (net.real ? it : it.skip)('waits for a slow reader during a large push instead of dropping chunks (a paused socket: real sockets)', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, sendBufferSize: 16 * 1024 });
      const a = await agentOn(m, k);
      await a.handshake();
      a.socket.pause();
      const content = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < content.length; i++) content[i] = (i * 31 + (i >> 9)) & 0xff;
      const pushed = m.pushSharedFile(k!.id, [{ name: 'big.bin', content }]);
      await sleep(100);
      a.socket.resume();
      expect(await pushed).toBe(1);
      const msgs = [];
      for (;;) {
        const msg = await a.next();
        msgs.push(msg);
        if (msg.text === '#!-close file ') break;
      }
      const file = Buffer.concat(msgs.slice(1, -1).map((x) => x.data!));
      expect(createHash('md5').update(file).digest('hex')).toBe(/^#!-up file ([0-9a-f]+) /.exec(msgs[0]!.text!)![1]);
      expect(m.stats().sendDropped).toBe(0);
    });

    it('pushes shared files on demand over UDP, pausing every 31 chunks', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, protocols: ['udp'], udpFilePauseMs: 150 });
      const u = await net.udp(m, k!);
      cleanup(() => u.close());
      await u.handshake();
      const content = Buffer.alloc(40 * 900, 0x61);
      const t0 = performance.now();
      const pushed = m.pushSharedFile(k!.id, [{ name: 'big.bin', content }]);
      const msgs = [];
      for (;;) {
        const msg = await u.next();
        msgs.push(msg);
        if (msg.text === '#!-close file ') break;
      }
      expect(await pushed).toBe(1);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
      const file = Buffer.concat(msgs.slice(1, -1).map((x) => x.data!));
      expect(createHash('md5').update(file).digest('hex')).toBe(/^#!-up file ([0-9a-f]+) /.exec(msgs[0]!.text!)![1]);
    });

    it('round-trips a request over TCP', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys });
      const a = await agentOn(m, k);
      await a.handshake();
      const res = m.request(k!.id, 'agent', 'getconfig client');
      const req = await a.next();
      const mm = /^#!-req ([0-9a-f]{1,8}) agent getconfig client$/.exec(req.text!);
      expect(mm).not.toBeNull();
      a.send(buildRequestReply(mm![1]!, 'ok {"client":{}}'));
      expect(await res).toBe('ok {"client":{}}');
      expect(await a.silentFor(50)).toBe(true); // no ACK for request replies on TCP
    });

    it('retransmits a UDP request every second until the agent acks, then acks the response', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, protocols: ['udp'], requestRetransmitMs: 100 });
      const u = await net.udp(m, k!);
      cleanup(() => u.close());
      await u.handshake();
      const res = m.request(k!.id, 'agent', 'getstate');
      const r1 = await u.next();
      const r2 = await u.next();
      expect(r2.text).toBe(r1.text);
      expect(r2.at - r1.at).toBeGreaterThanOrEqual(80);
      const counter = /^#!-req ([0-9a-f]+) /.exec(r1.text!)![1]!;
      u.send(`#!-req ${counter} ack`);
      await sleep(50);
      u.inbox.length = 0;
      expect(await u.silentFor(250)).toBe(true); // acked: no more retransmissions
      u.send(buildRequestReply(counter, '{"error":0,"data":{"status":"connected"}}'));
      expect(await res).toBe('{"error":0,"data":{"status":"connected"}}');
      expect((await u.next()).text).toBe(`#!-req ${counter} ack`);
    });

    it('rejects a UDP request that is never acknowledged after 4 attempts', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys, protocols: ['udp'], requestRetransmitMs: 30 });
      const u = await net.udp(m, k!);
      cleanup(() => u.close());
      await u.handshake();
      await expect(m.request(k!.id, 'agent', 'getstate')).rejects.toMatchObject({ code: 'ERR_REQUEST' });
      await sleep(20);
      expect(u.inbox.filter((x) => x.text?.startsWith('#!-req')).length).toBe(4);
    });

    it('sends force_reconnect and active responses to reachable agents only', async () => {
      const keys = new KeyStore();
      const [k1, k2, k3] = keys.generate(3);
      const m = await startManager({ keys });
      const a1 = await agentOn(m, k1);
      const a2 = await agentOn(m, k2);
      await a1.handshake();
      await a2.handshake();
      expect(m.forceReconnect('all')).toBe(2);
      expect((await a1.next()).text).toBe('#!-force_reconnect');
      expect((await a2.next()).text).toBe('#!-force_reconnect');
      expect(m.forceReconnect([k3!.id])).toBe(0);
      expect(m.activeResponse(k1!.id, { version: 1, command: 'restart-wazuh0' })).toBe(1);
      expect((await a1.next()).text).toBe('#!-execd {"version":1,"command":"restart-wazuh0"}');
      expect(m.send(k2!.id, '#!-syscheck restart')).toBe(true);
      expect((await a2.next()).text).toBe('#!-syscheck restart');
    });

    it('does not register a reply channel from events alone (protocol.md 8.3)', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await startManager({ keys });
      const a = await agentOn(m, k);
      a.send('1:x:y');
      await m.waitForEvents(1);
      expect(m.forceReconnect([k!.id])).toBe(0);
      await expect(m.request(k!.id, 'agent', 'getstate')).rejects.toMatchObject({ code: 'ERR_REQUEST' });
    });
  });

  describe(`MockManager life cycle (${net.name})`, () => {
    it('close() destroys every connection and rejects pending waits, leaving no handle', async () => {
      const keys = new KeyStore();
      const [k] = keys.generate(1);
      const m = await net.manager({ keys, protocols: ['tcp', 'udp'] });
      const a = await net.tcp(m, k!);
      cleanup(() => a.close());
      await a.handshake();
      const waiting = m.waitForEvents(1, { timeout: 5000 });
      const req = m.request(k!.id, 'agent', 'getstate');
      await m.close();
      await expect(waiting).rejects.toMatchObject({ code: 'ERR_CLOSED' });
      await expect(req).rejects.toMatchObject({ code: 'ERR_REQUEST' });
      expect(await a.waitClosed()).toBe(true);
      await m.close();
      await expect(m.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
      const refused = await net.connectResult(m);
      expect(refused).toBe('ECONNREFUSED');
    });

    it('runs an authd mock on the same key store: an enrolled agent connects at once', async () => {
      const m = await startManager({ authd: { groups: ['default', 'linux'] } });
      expect(m.authdPort).toBeGreaterThan(0);
      const { connect: tlsConnect } = await import('node:tls');
      const reply = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: m.authdPort!, rejectUnauthorized: false }, () => {
          s.write("OSSEC A:'newagent' V:'v4.14.7' G:'linux'\n");
        });
        let buf = '';
        s.on('data', (d: Buffer) => (buf += d.toString()));
        s.on('end', () => resolve(buf));
        s.on('close', () => resolve(buf));
        s.on('error', reject);
      });
      const mm = /^OSSEC K:'(\d+) (\S+) (\S+) ([0-9a-f]{64})'/.exec(reply);
      expect(mm).not.toBeNull();
      const key = { id: mm![1]!, name: mm![2]!, ip: mm![3]!, key: mm![4]! };
      expect(m.keyStore.groupsOf(key.id)).toEqual(['linux']);
      expect(m.agent(key.id)?.group).toBe('linux');
      const a = await agentOn(m, key);
      expect(await a.handshake()).toBe(ACK);
    });
  });
}
