/**
 * `simulate --config ossec.conf --keys client.keys`: the servers and timers come from the agent
 * configuration file, the identities from the keys file, and a flag set away from its default wins
 * over the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatClientKeys } from 'agentlink';
import { KeyStore, MockManager } from 'agentlink/testing';
import { parseChaos, parseSimulateArgs } from 'agentlink/simulator';
import { DEMO_CHAOS, DEMO_OPTIONS, demoConfig } from '../../../src/cli/demo.js';
// simulate() is not in the simulator barrel yet (the lead adds it): import the module directly
import { simulate } from '../../../src/simulator/run.js';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('simulate() with --config', () => {
  it('connects the agents to the servers of the ossec.conf, in its order, with its crypto method', async () => {
    const keys = new KeyStore();
    const list = keys.generate(8, { namePrefix: 'conf' });
    const a = new MockManager({ keys, name: 'a', eventHistory: 0 });
    const b = new MockManager({ keys, name: 'b', eventHistory: 0 });
    cleanups.push(() => a.close(), () => b.close());
    await a.start();
    await b.start();
    writeFileSync(join(dir, 'client.keys'), formatClientKeys(list));
    writeFileSync(
      join(dir, 'ossec.conf'),
      `<ossec_config><client>
        <server><address>127.0.0.1</address><port>${a.port}</port><protocol>tcp</protocol></server>
        <server><address>127.0.0.1</address><port>${b.port}</port><protocol>tcp</protocol></server>
        <notify_time>1</notify_time><time-reconnect>5</time-reconnect><crypto_method>blowfish</crypto_method>
      </client></ossec_config>`,
    );
    const result = await simulate(
      parseSimulateArgs(['--agents', '8', '--config', 'ossec.conf', '--keys', 'client.keys', '--no-spread', '--duration', '2s', '--eps', '1', '--drain', '1s', '--quiet']),
      { cwd: dir },
    );
    expect(result.problems).toEqual([]);
    expect(result.report.agents.connected).toBe(8);
    // --no-spread: every agent takes the file's first server
    expect(result.report.distribution).toEqual({ [`127.0.0.1:${a.port}`]: 8, [`127.0.0.1:${b.port}`]: 0 });
    // every agent spoke to the first server with blowfish, over TCP, and said goodbye at the end
    // (simulate() returns once the agents' sockets are released: none is connected any more)
    const records = a.agents();
    expect(records.map((r) => [r.id, r.method, r.protocol, r.status])).toEqual(list.map((k) => [k.id, 'blowfish', 'tcp', 'disconnected']));
    expect(b.agents().every((r) => r.method === undefined)).toBe(true);
    expect(a.connectedAgentIds()).toEqual([]);
  }, 20_000);

  it('refuses a configuration without identities: no keys and no <enrollment>', async () => {
    writeFileSync(join(dir, 'bare.conf'), '<ossec_config><client><server><address>127.0.0.1</address></server><enrollment><enabled>no</enabled></enrollment></client></ossec_config>');
    await expect(simulate(parseSimulateArgs(['--agents', '2', '--config', 'bare.conf', '--duration', '1s', '--quiet']), { cwd: dir })).rejects.toThrow(
      /--config 'bare\.conf' has no \(enabled\) <enrollment> section: give --keys client\.keys or --enroll HOST:PORT/,
    );
  });

  it('reports the effective configuration: the ossec.conf values, and a flag given on the command line over them even at its default', async () => {
    const keys = new KeyStore();
    const list = keys.generate(2, { namePrefix: 'eff' });
    const m = new MockManager({ keys, name: 'm', eventHistory: 0 });
    cleanups.push(() => m.close());
    await m.start();
    writeFileSync(join(dir, 'eff.keys'), formatClientKeys(list));
    writeFileSync(
      join(dir, 'eff.conf'),
      `<ossec_config><client>
        <server><address>127.0.0.1</address><port>${m.port}</port><protocol>tcp</protocol><max_retries>7</max_retries></server>
        <notify_time>5</notify_time><time-reconnect>30</time-reconnect><crypto_method>blowfish</crypto_method>
      </client><client_buffer><queue_size>1234</queue_size></client_buffer></ossec_config>`,
    );
    const base = ['--agents', '2', '--config', 'eff.conf', '--keys', 'eff.keys', '--duration', '1s', '--drain', '500ms', '--quiet', '--html', 'eff.html'];
    const fromFile = await simulate(parseSimulateArgs(base), { cwd: dir });
    expect(fromFile.problems).toEqual([]);
    const c = fromFile.report.config;
    expect(c).toMatchObject({ notifyTimeMs: 5000, timeReconnectMs: 30_000, crypto: 'blowfish', strategy: 'wazuh', jitter: 0 });
    expect(c.servers).toEqual([{ address: '127.0.0.1', port: m.port, protocol: 'tcp', node: `127.0.0.1:${m.port}`, maxRetries: 7, retryInterval: 10_000 }]);
    expect(c.buffer).toMatchObject({ queueSize: 1234 });
    expect(c).not.toHaveProperty('given');
    expect(m.agents().map((r) => r.method)).toEqual(['blowfish', 'blowfish']);
    // the HTML "Settings" show the same
    expect(readFileSync(join(dir, 'eff.html'), 'utf8')).toMatch(/<th>keepalive period \(--notify\)<\/th><td>5 s<\/td>/);

    // --notify 20s and --crypto aes are the defaults, but given: they win over the file
    const flagged = await simulate(parseSimulateArgs([...base, '--notify', '20s', '--crypto', 'aes']), { cwd: dir });
    expect(flagged.problems).toEqual([]);
    expect(flagged.report.config).toMatchObject({ notifyTimeMs: 20_000, timeReconnectMs: 30_000, crypto: 'aes' });
    expect(m.agents().map((r) => r.method)).toEqual(['aes', 'aes']);
  }, 20_000);
});

describe("the demo's effective configuration", () => {
  it('shows the chaos it runs, its jitter and its short retry timers', async () => {
    const { reportPath: _r, htmlPath: _h, ...config } = demoConfig('6', undefined, true);
    // the demo's chaos starts at 10 s: a shorter run reports the schedule without running it
    const { report } = await simulate({ ...config, durationMs: 1000, drainMs: 300 }, { cwd: dir, ...DEMO_OPTIONS });
    expect(report.config).toMatchObject({ notifyTimeMs: 2000, timeReconnectMs: 6000, strategy: 'wazuh', jitter: 0.5, eps: 2, workload: 'mixed' });
    expect(report.config.chaos).toEqual(parseChaos(DEMO_CHAOS, 3));
    const servers = report.config.servers as { node: string; maxRetries: number; retryInterval: number }[];
    expect(servers.map((s) => [s.node, s.maxRetries, s.retryInterval])).toEqual([
      ['node1', 2, 1500],
      ['node2', 2, 1500],
      ['node3', 2, 1500],
    ]);
  }, 20_000);
});
