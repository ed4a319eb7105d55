/**
 * `simulate --manager ... --enroll host:port --password-file F --groups g`: agents without keys
 * enroll with authd first (password from the file, the groups requested), then connect.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MockManager } from 'agentlink/testing';
import { parseSimulateArgs } from 'agentlink/simulator';
// simulate() is not in the simulator barrel yet (the lead adds it): import the module directly
import { simulate } from '../../../src/simulator/run.js';

const dir = mkdtempSync(join(tmpdir(), 'agentlink-enroll-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('simulate() with enrollment', () => {
  it('enrolls every agent with the password and groups, then connects them', async () => {
    const manager = new MockManager({ authd: { password: 'sim-pass', groups: ['default', 'web'] }, eventHistory: 0 });
    cleanups.push(() => manager.close());
    await manager.start();
    writeFileSync(join(dir, 'authd.pass'), 'sim-pass\n');
    const config = parseSimulateArgs([
      '--agents', '12', '--manager', `127.0.0.1:${manager.port}`, '--enroll', `127.0.0.1:${manager.authdPort}`,
      '--password-file', 'authd.pass', '--groups', 'default,web', '--duration', '3s', '--notify', '1s', '--eps', '1', '--drain', '1s', '--quiet',
    ]);
    const result = await simulate(config, { cwd: dir, client: { enrollment: { delayAfterEnrollment: 0 } } });
    expect(result.problems).toEqual([]);
    expect(result.report.agents).toEqual({ total: 12, connected: 12, neverConnected: 0 });
    const keys = manager.keyStore.list();
    expect(keys.map((k) => k.name).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `sim-${String(i + 1).padStart(6, '0')}`));
    for (const k of keys) expect(manager.keyStore.groupsOf(k.id)).toEqual(['default', 'web']);
    // received is unknown: the manager is not the simulator's own
    expect(result.report.events.received).toBeNull();
    expect(result.report.events.generated).toBeGreaterThan(0);
  }, 20_000);

  it('fails every agent with the enrollment error when the password is wrong', async () => {
    const manager = new MockManager({ authd: { password: 'right' }, eventHistory: 0 });
    cleanups.push(() => manager.close());
    await manager.start();
    writeFileSync(join(dir, 'wrong.pass'), 'wrong\n');
    const config = parseSimulateArgs([
      '--agents', '3', '--manager', `127.0.0.1:${manager.port}`, '--enroll', `127.0.0.1:${manager.authdPort}`,
      '--password-file', 'wrong.pass', '--duration', '1500ms', '--drain', '0', '--quiet',
    ]);
    const result = await simulate(config, { cwd: dir, client: { enrollment: { delayAfterEnrollment: 0 } } });
    expect(result.report.agents.connected).toBe(0);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(/^no agent connected within 1500ms: 3 of 3 failed with ERR_ENROLLMENT_REJECTED/);
  }, 20_000);
});
