/**
 * `simulate --config ossec.conf --keys client.keys`: the servers and timers come from the agent
 * configuration file, the identities from the keys file, and a flag set away from its default wins
 * over the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { formatClientKeys } from 'agentlink';
import { KeyStore, MockManager } from 'agentlink/testing';
import { parseSimulateArgs } from 'agentlink/simulator';
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
    expect(a.agents().filter((r) => r.connected).every((r) => r.method === 'blowfish')).toBe(true);
    expect(a.connectedAgentIds().sort()).toEqual(list.map((k) => k.id).sort());
  }, 20_000);

  it('refuses a configuration without identities: no keys and no <enrollment>', async () => {
    writeFileSync(join(dir, 'bare.conf'), '<ossec_config><client><server><address>127.0.0.1</address></server><enrollment><enabled>no</enabled></enrollment></client></ossec_config>');
    await expect(simulate(parseSimulateArgs(['--agents', '2', '--config', 'bare.conf', '--duration', '1s', '--quiet']), { cwd: dir })).rejects.toThrow(
      /--config 'bare\.conf' has no \(enabled\) <enrollment> section: give --keys client\.keys or --enroll HOST:PORT/,
    );
  });
});
