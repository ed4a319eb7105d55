/**
 * `simulate --compression-level N` reaches every agent, in this process and in worker processes:
 * the frames the MockManager receives carry zlib streams of that level (level 0: one stored block,
 * no compression; the default: level 9), and the manager still decodes and counts every event.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ToolError, aesDecrypt, deriveEncryptionKey, formatClientKeys } from 'agentlink';
import type { AgentKey } from 'agentlink';
import { MockManager, isProgramEvent } from 'agentlink/testing';
import { parseSimulateArgs, simulate, simulatedIdentities } from 'agentlink/simulator';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-compression-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const AGENTS = 4;
const keys: AgentKey[] = simulatedIdentities(
  Array.from({ length: AGENTS }, (_, i) => i),
  'compression',
);
writeFileSync(join(dir, 'client.keys'), formatClientKeys(keys));

/**
 * A MockManager behind a TCP relay that keeps every byte the agents send, so the test reads the
 * frames exactly as the manager receives them.
 */
async function tappedManager(): Promise<{ manager: MockManager; port: number; upstream: Buffer[]; received: () => number }> {
  const manager = new MockManager({ keys, eventHistory: 0 });
  // the workload's events (not the agents' `Agent started` nor the manager's `Agent stopped`)
  let received = 0;
  manager.on('event', (e) => {
    if (isProgramEvent(e)) received++;
  });
  await manager.start();
  cleanups.push(() => manager.close());
  const upstream: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((agent) => {
    const chunks: Buffer[] = [];
    upstream.push(Buffer.alloc(0));
    const slot = upstream.length - 1;
    const toManager = net.connect({ host: '127.0.0.1', port: manager.port });
    for (const s of [agent, toManager]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    agent.on('data', (d: Buffer) => {
      chunks.push(d);
      upstream[slot] = Buffer.concat(chunks);
    });
    // half-closes pass through (pipe ends the other side), so the last frames reach the manager
    agent.pipe(toManager).pipe(agent);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  );
  return { manager, port: (relay.address() as net.AddressInfo).port, upstream, received: () => received };
}

/** The zlib streams of one connection's byte stream: frames split, decrypted, `!` padding removed. */
function zlibStreams(stream: Buffer): { id: string; z: Buffer }[] {
  const out: { id: string; z: Buffer }[] = [];
  for (let off = 0; off + 4 <= stream.length; ) {
    const len = stream.readUInt32LE(off);
    const payload = stream.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    if (payload.length < len) break;
    const header = /^!(\d+)!#AES:/.exec(payload.toString('latin1', 0, 20));
    expect(header).not.toBeNull();
    const key = keys.find((k) => k.id === header![1])!;
    const padded = aesDecrypt(deriveEncryptionKey(key).aes, payload.subarray(header![0].length));
    let z = 0;
    while (padded[z] === 0x21) z++;
    out.push({ id: key.id, z: padded.subarray(z) });
  }
  return out;
}

async function run(extra: string[], target: 'manager' | 'config' = 'manager'): Promise<{ streams: { id: string; z: Buffer }[]; received: number; written: number }> {
  const { port, upstream, received } = await tappedManager();
  writeFileSync(join(dir, 'ossec.conf'), `<ossec_config><client><server><address>127.0.0.1</address><port>${port}</port></server></client></ossec_config>`);
  const config = parseSimulateArgs([
    ...['--agents', String(AGENTS), ...(target === 'manager' ? ['--manager', `127.0.0.1:${port}`] : ['--config', 'ossec.conf']), '--keys', 'client.keys'],
    ...['--duration', '1500ms', '--eps', '5', '--ramp', '0', '--notify', '1s', '--drain', '1s', '--quiet', ...extra],
  ]);
  const result = await simulate(config, { cwd: dir });
  expect(result.problems).toEqual([]);
  expect(result.report.agents.connected).toBe(AGENTS);
  const written = result.report.events.written;
  // the relay adds a hop: the manager may decode the last frames just after the run ends
  await vi.waitFor(() => expect(received()).toBe(written), { timeout: 5000, interval: 20 });
  return { streams: upstream.flatMap(zlibStreams), received: received(), written };
}

describe('simulate --compression-level', () => {
  it('level 0: every frame the manager receives is one stored block, and every event is decoded', async () => {
    const { streams, received, written } = await run(['--compression-level', '0']);
    expect(new Set(streams.map((s) => s.id)).size).toBe(AGENTS);
    // startup, keepalives and events alike
    expect(streams.length).toBeGreaterThan(AGENTS * 3);
    for (const { z } of streams) {
      // zlib header of level 0 (FLEVEL 0), then a final stored block (BFINAL 1, BTYPE 00)
      expect(z.readUInt16BE(0)).toBe(0x7801);
      expect(z[2]! & 0x07).toBe(0x01);
      // LEN and NLEN: the whole block is stored, the stream is LEN + 2 + 5 + 4 bytes long
      const stored = z.readUInt16LE(3);
      expect(z.readUInt16LE(5)).toBe(~stored & 0xffff);
      expect(z.length).toBe(2 + 5 + stored + 4);
      expect(inflateSync(z).length).toBe(stored);
    }
    expect(written).toBeGreaterThan(0);
    expect(received).toBe(written);
  }, 20_000);

  it('by default (and over worker processes) the agents send level-9 streams', async () => {
    const { streams, received, written } = await run(['--workers', '2']);
    expect(new Set(streams.map((s) => s.id)).size).toBe(AGENTS);
    for (const { z } of streams) {
      expect(z.readUInt16BE(0)).toBe(0x78da);
      expect(inflateSync(z).length).toBeGreaterThan(53);
    }
    expect(received).toBe(written);
  }, 20_000);

  it('level 0 over worker processes, and with the servers of an ossec.conf', async () => {
    for (const target of ['manager', 'config'] as const) {
      const { streams } = await run(['--workers', '2', '--compression-level', '0'], target);
      expect(new Set(streams.map((s) => s.id)).size).toBe(AGENTS);
      for (const { z } of streams) expect(z.readUInt16BE(0)).toBe(0x7801);
    }
  }, 30_000);

  it('simulate() refuses a configured level outside 0 to 9 before anything starts', async () => {
    const config = { ...parseSimulateArgs(['--agents', '1', '--manager', '127.0.0.1:9', '--keys', 'client.keys']), compressionLevel: 10 };
    await expect(simulate(config, { cwd: dir })).rejects.toThrow(ToolError);
    await expect(simulate(config, { cwd: dir })).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/--compression-level '10' must be a whole number from 0 to 9/) });
  });
});
