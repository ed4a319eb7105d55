/**
 * Adversarial input to the agent: a raw fake manager that, after the startup ACK, sends garbage,
 * oversize and truncated frames, unknown control messages, malformed or huge requests, shared-file
 * pushes that never close or that name `../` paths. The agent must never crash, count what it
 * refused (`stats().decodeErrors`), reconnect where protocol.md 5.5 says so (corrupt payload,
 * oversize frame, lost connection, silence) and stay on the connection otherwise, and keep
 * delivering events.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentClient, FILE_CLOSE_MESSAGE, MAX_FRAME_SIZE, MAX_MESSAGE_SIZE, buildFileOpen, buildMergedMg } from '../../../src/index.js';
import type { SharedFile, AgentClientOptions, AgentKey } from '../../../src/index.js';
import { KeyStore } from '../../../src/testing/index.js';
import type { Cleanups, ScriptedConn } from './helpers.js';
import { ScriptedTcpManager, runCleanups, seeded, sleep, until } from './helpers.js';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

const [KEY] = new KeyStore().generate(1) as [AgentKey];

interface Rig {
  mgr: ScriptedTcpManager;
  client: AgentClient;
  errors: string[];
  disconnects: string[];
  messages: { text: string; kind: string }[];
  files: SharedFile[];
}

/**
 * A scripted manager that runs `misbehave` on the first connection only (right after the startup
 * ACK), and an agent connected to it.
 */
async function rig(misbehave: (conn: ScriptedConn) => void, extra: Partial<AgentClientOptions> = {}): Promise<Rig> {
  const mgr = new ScriptedTcpManager(KEY);
  cleanups.push(() => mgr.close());
  let first = true;
  mgr.onHandshake = (conn) => {
    if (!first) return;
    first = false;
    // after the agent's first keepalive went out, so the misbehaviour lands on an established connection
    setTimeout(() => misbehave(conn), 30);
  };
  const port = await mgr.start();
  const client = new AgentClient({
    agent: KEY,
    servers: [{ address: '127.0.0.1', port, maxRetries: 10, retryInterval: 50 }],
    notifyTime: 200,
    timeReconnect: 600,
    connectTimeout: 1000,
    handshakeTimeout: 1000,
    uname: 'Linux |victim |6.1 |#1 |x86_64',
    buffer: { eventsPerSecond: 1000 },
    ...extra,
  });
  const r: Rig = { mgr, client, errors: [], disconnects: [], messages: [], files: [] };
  client.on('error', (e) => r.errors.push(e.code));
  client.on('disconnected', ({ reason }) => r.disconnects.push(reason.code));
  client.on('message', (m) => r.messages.push(m));
  client.on('sharedFile', (f) => r.files.push(f));
  cleanups.push(() => client.stop({ drainTimeout: 0 }));
  await client.start();
  return r;
}

/** Sends an event and waits until the scripted manager has it (on whichever connection is live). */
async function delivered(r: Rig, message: string): Promise<void> {
  r.client.send(message, 'adversarial');
  await until(() => r.mgr.events().some((e) => e === message), 4000, `event '${message}' delivered`);
}

/** Asserts the agent reconnected (second connection ACKed) and still delivers events there. */
async function reconnectedAndUsable(r: Rig): Promise<void> {
  await until(() => r.client.stats().connects >= 2 && r.client.connected, 4000, 'agent reconnected');
  // the agent dropped the first connection (a paused server socket notices only when it reads)
  r.mgr.conns[0]!.socket.resume();
  await until(() => r.mgr.conns[0]!.closed, 2000, 'first connection closed');
  await delivered(r, 'after reconnect');
  expect(r.mgr.live!.events().some((e) => e === 'after reconnect')).toBe(true);
}

/** Asserts the agent kept its first connection and still delivers events on it. */
async function stayedAndUsable(r: Rig, settleMs = 300): Promise<void> {
  await sleep(settleMs);
  await delivered(r, 'still here');
  const s = r.client.stats();
  expect(s.connects).toBe(1);
  expect(s.disconnects).toBe(0);
  expect(r.mgr.conns).toHaveLength(1);
  expect(r.mgr.conns[0]!.events().some((e) => e === 'still here')).toBe(true);
}

describe('the agent under adversarial input from a manager', () => {
  it('a well-framed payload of random bytes: counted, reported, dropped; the connection stays (as wazuh-agentd: warn and read on)', async () => {
    const rnd = seeded(11);
    const r = await rig((conn) => conn.writeFrame(rnd.bytes(173)));
    await until(() => r.client.stats().decodeErrors === 1, 3000, 'decode error counted');
    expect(r.errors.some((c) => c.startsWith('ERR_DECODE'))).toBe(true);
    // longer than timeReconnect (600 ms): the ACKs after the bad frame keep the connection
    await stayedAndUsable(r, 900);
  });

  it('seeded raw garbage (no framing at all) never crashes the agent: it reconnects, by decode error, oversize prefix or silence', async () => {
    for (const seed of [1, 2, 3]) {
      const rnd = seeded(seed);
      const r = await rig((conn) => conn.writeRaw(rnd.bytes(rnd.int(50, 400))));
      await until(() => r.client.stats().disconnects >= 1, 3000, `seed ${seed}: connection dropped`);
      expect(['ERR_DECODE_FRAME_TOO_LARGE', 'ERR_SERVER_SILENT', 'ERR_DECODE_DECRYPT', 'ERR_DECODE_FORMAT', 'ERR_DECODE_SIZE', 'ERR_DECODE_COMPRESSION']).toContain(
        r.disconnects[0],
      );
      await reconnectedAndUsable(r);
      await runCleanups(cleanups);
    }
  });

  it('an oversize frame (length prefix above 65536): the stream is corrupt, counted, the agent reconnects', async () => {
    const r = await rig((conn) => {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(MAX_FRAME_SIZE + 1, 0);
      conn.writeRaw(h);
    });
    await until(() => r.client.stats().disconnects === 1, 3000, 'connection dropped');
    expect(r.disconnects[0]).toBe('ERR_DECODE_FRAME_TOO_LARGE');
    expect(r.client.stats().decodeErrors).toBe(1);
    await reconnectedAndUsable(r);
  });

  it('a truncated frame followed by normal traffic puts the stream out of step: decode errors, then silence or an oversize length, reconnect', async () => {
    const r = await rig((conn) => {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(120, 0);
      conn.writeRaw(Buffer.concat([h, Buffer.from('#AES:'), Buffer.alloc(15, 0x55)])); // 20 of 120 bytes
      // the next ACKs (one per keepalive) are swallowed into the truncated frame until it is "complete"
    });
    await until(() => r.client.stats().disconnects === 1, 3000, 'connection dropped');
    expect(r.disconnects[0]).toMatch(/^ERR_DECODE|^ERR_SERVER_SILENT$/);
    await reconnectedAndUsable(r);
  });

  it('a truncated frame and then silence: detected by timeReconnect, reconnect', async () => {
    const r = await rig((conn) => {
      conn.socket.pause();
      const h = Buffer.alloc(4);
      h.writeUInt32LE(60_000, 0);
      conn.writeRaw(Buffer.concat([h, Buffer.alloc(100, 0x21)]));
      r.mgr.ackKeepalives = false;
    });
    await until(() => r.client.stats().disconnects === 1, 3000, 'connection dropped');
    expect(r.disconnects[0]).toBe('ERR_SERVER_SILENT');
    r.mgr.ackKeepalives = true;
    await reconnectedAndUsable(r);
  });

  it('a truncated frame and then FIN: the connection is lost, the agent reconnects', async () => {
    const r = await rig((conn) => {
      const h = Buffer.alloc(4);
      h.writeUInt32LE(500, 0);
      conn.socket.end(Buffer.concat([h, Buffer.alloc(100, 0x21)]));
    });
    await until(() => r.client.stats().disconnects === 1, 3000, 'connection dropped');
    expect(r.disconnects[0]).toBe('ERR_CONNECTION_LOST');
    await reconnectedAndUsable(r);
  });

  it('valid frames with unknown control messages, stray data and odd ACK spellings: reported as messages, the connection stays', async () => {
    const texts = ['#!-hello-from-the-future v9', '#!-', '#!-agent ack', '#!-agent  ack ', '#!-err not json', '#!-execd {broken json', 'stray data, no file open'];
    const r = await rig((conn) => {
      for (const t of texts) conn.send(t);
    });
    await until(() => r.messages.length >= texts.length - 1, 3000, 'messages reported'); // execd goes to activeResponse
    expect(r.client.stats().decodeErrors).toBe(0);
    expect(r.messages.map((m) => m.kind).sort()).toEqual(['control', 'control', 'control', 'control', 'control', 'data']);
    await stayedAndUsable(r);
  });

  it('malformed and huge #!-req bodies: malformed ones counted, huge ones answered with an error, the connection stays', async () => {
    const huge = `#!-req 1a2b3c4d agent ${'x'.repeat(MAX_MESSAGE_SIZE - 40)}`;
    const r = await rig((conn) => {
      conn.send('#!-req '); // no counter
      conn.send('#!-req deadbeef'); // no target
      conn.send('#!-req  agent getconfig client'); // empty counter
      conn.send(huge);
      conn.send(`#!-req 5 agent getconfig ${'../'.repeat(2000)}`);
      conn.send('#!-req 6 com \u0000\u0001\u0002 binary');
    });
    await until(() => r.mgr.conns[0]!.received.filter((m) => m.type === 'request_reply').length >= 3, 3000, 'replies');
    const replies = r.mgr.conns[0]!.received.flatMap((m) => (m.type === 'request_reply' ? [`${m.counter} ${m.response.slice(0, 40)}`] : []));
    expect(replies).toEqual(['1a2b3c4d err Unrecognized command', '5 err Could not get requested section', '6 err No such file or directory']);
    expect(r.client.stats().decodeErrors).toBe(3);
    await stayedAndUsable(r);
  });

  it('a shared-file push that never closes is held, never delivered, and does not stop ACKs or events; the next push replaces it', async () => {
    const bundle = buildMergedMg([{ name: 'agent.conf', content: '<agent_config/>\n' }], 'default');
    const md5 = createHash('md5').update(bundle).digest('hex');
    let conn1: ScriptedConn | undefined;
    const r = await rig((conn) => {
      conn1 = conn;
      conn.send(buildFileOpen(md5, 'merged.mg'));
      conn.send(bundle.subarray(0, 10)); // ...and never the rest, never #!-close file
    });
    // ACKs keep coming for well over timeReconnect: the open file is no reason to drop the connection
    await sleep(900);
    expect(r.client.stats().acks).toBeGreaterThanOrEqual(4);
    expect(r.files).toEqual([]);
    // A proper push now: the dangling one is dropped, the new one is delivered and valid.
    conn1!.send(buildFileOpen(md5, 'merged.mg'));
    for (let off = 0; off < bundle.length; off += 900) conn1!.send(bundle.subarray(off, off + 900));
    conn1!.send(FILE_CLOSE_MESSAGE);
    await until(() => r.files.length === 1, 3000, 'shared file delivered');
    expect(r.files[0]).toMatchObject({ name: 'merged.mg', valid: true, md5 });
    expect(r.files[0]!.files?.map((f) => f.name)).toEqual(['agent.conf']);
    await stayedAndUsable(r, 0);
  });

  it('a shared-file push above 64 MiB is discarded (ERR_DECODE_SIZE) instead of growing without bound', async () => {
    const chunk = Buffer.alloc(MAX_MESSAGE_SIZE, 0x41); // compresses to almost nothing on the wire
    const r = await rig((conn) => {
      conn.send(buildFileOpen('0'.repeat(32), 'merged.mg'));
      for (let i = 0; i < Math.ceil((64 * 1024 * 1024) / MAX_MESSAGE_SIZE) + 2; i++) conn.send(chunk);
      conn.send(FILE_CLOSE_MESSAGE);
    });
    await until(() => r.errors.includes('ERR_DECODE_SIZE'), 10_000, 'oversize push discarded');
    await sleep(100);
    expect(r.files).toEqual([]);
    expect(r.client.stats().decodeErrors).toBe(1);
    await stayedAndUsable(r, 0);
  });

  it('#!-up file with ../ names is refused (never a path outside the shared folder), counted, and the connection stays', async () => {
    const content = Buffer.from('pwned\n');
    const md5 = createHash('md5').update(content).digest('hex');
    const names = ['../../etc/passwd', '..', 'a/../../b', '/etc/passwd', '.bashrc', 'ok\\..\\..\\win.ini'];
    const r = await rig((conn) => {
      for (const name of names) {
        conn.send(buildFileOpen(md5, name));
        conn.send(content);
        conn.send(FILE_CLOSE_MESSAGE);
      }
      conn.send('#!-up file 0123'); // no name at all
    });
    await until(() => r.files.length === 2 && r.client.stats().decodeErrors >= 5, 3000, 'files handled');
    // only the two names without '..' get through, flattened to one safe path component
    expect(r.files.map((f) => f.name)).toEqual(['-etc-passwd', '-bashrc']);
    for (const f of r.files) {
      expect(f.name).not.toMatch(/[/\\]|\.\./);
      expect(f.name.startsWith('.')).toBe(false);
    }
    // 4 names with '..' refused, plus the header without a name
    expect(r.client.stats().decodeErrors).toBe(5);
    await stayedAndUsable(r);
  });
});
