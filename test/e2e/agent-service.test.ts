/**
 * The liveness promise of an agent program, tested the way users run one: examples/agent-service.ts
 * compiled, in its own Node.js process, pointed at a port where no manager listens.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_INTERVAL } from 'agentlink';
import { MockManager } from 'agentlink/testing';

const root = new URL('../../', import.meta.url).pathname;
const script = `${root}dist/examples/agent-service.js`;
const probe = new URL('../fixtures/programs/handle-probe.mjs', import.meta.url).href;
const key = { id: '001', name: 'service-agent', ip: 'any', key: 'c'.repeat(64) };

/** A port on 127.0.0.1 where nothing listens (bound once by the kernel, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The child's stdout as lines, with a wait for the first line matching a pattern. */
function lines(child: ChildProcess): { all: string[]; waitFor(re: RegExp, timeoutMs: number): Promise<string> } {
  const all: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (line: string) => void }>();
  let rest = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      all.push(line);
      for (const w of waiters) if (w.re.test(line)) w.resolve(line);
    }
  });
  return {
    all,
    waitFor(re, timeoutMs) {
      const seen = all.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output so far:\n${all.join('\n')}`));
        }, timeoutMs);
        const w = {
          re,
          resolve: (line: string) => {
            clearTimeout(timer);
            waiters.delete(w);
            resolve(line);
          },
        };
        waiters.add(w);
      });
    },
  };
}

/** Resolves with the exit code, or with 'running' if the process is still alive after `ms`. */
function exitWithin(child: ChildProcess, ms: number): Promise<number | null | 'running'> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('running'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('an agent program (examples/agent-service.ts in its own process)', () => {
  let child: ChildProcess | undefined;
  let manager: MockManager | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await manager?.close();
  });

  it('stays alive while no manager answers, connects within a retry interval once one listens, and exits by itself after stop()', async () => {
    expect(existsSync(script), `${script} missing: the build failed (see the global setup warning)`).toBe(true);
    const port = await closedPort();
    child = spawn(process.execPath, ['--import', probe, script], {
      cwd: root,
      env: { ...process.env, WAZUH_MANAGER: `127.0.0.1:${port}`, WAZUH_AGENT: `${key.id} ${key.name} ${key.ip} ${key.key}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const out = lines(child);

    await out.waitFor(new RegExp(`no manager at 127\\.0\\.0\\.1:${port}; next attempt in ${DEFAULT_RETRY_INTERVAL} ms`), 10_000);
    // the Wazuh agent's promise: a manager that is down does not end the agent
    expect(await exitWithin(child, 3000), `output:\n${out.all.join('\n')}\n${stderr}`).toBe('running');

    manager = new MockManager({ keys: [key], port });
    await manager.start();
    const managerUp = performance.now();
    await out.waitFor(new RegExp(`connected to 127\\.0\\.0\\.1:${port}`), 2 * DEFAULT_RETRY_INTERVAL);
    expect(performance.now() - managerUp).toBeLessThan(2 * DEFAULT_RETRY_INTERVAL);
    // the heartbeats queued while no manager answered arrive, in order, then the live ones
    await manager.waitForEvents((e) => e.message === 'heartbeat 4', { timeout: 15_000 });
    const beats = manager.receivedEvents().filter((e) => e.location === 'agent-service');
    expect(beats.slice(0, 5).map((e) => e.message)).toEqual(['heartbeat 0', 'heartbeat 1', 'heartbeat 2', 'heartbeat 3', 'heartbeat 4']);

    child.kill('SIGTERM');
    const code = await exitWithin(child, 10_000);
    expect(code, `output:\n${out.all.join('\n')}\n${stderr}`).toBe(0);
    expect(out.all).toContainEqual(expect.stringMatching(/^stopped: \d+ events sent, 0 left unsent$/));
    // nothing left behind: no timer, socket or pending connect/lookup, ref'd or not
    const report = /handle-probe (.*)/.exec(stderr)?.[1];
    expect(report, stderr).toBeDefined();
    expect(JSON.parse(report!)).toEqual({ code: 0, live: [] });
    // the manager saw the shutdown message
    expect(manager.statusOf(key.id)).toBe('disconnected');
  }, 60_000);

  for (const how of ['persistent: false', 'unref()'] as const) {
    it(`with ${how}, a program whose agent cannot reach a manager exits by itself`, async () => {
      const port = await closedPort();
      const sdk = new URL('../../dist/src/index.js', import.meta.url).href;
      const program = `
        import { AgentClient } from ${JSON.stringify(sdk)};
        const agent = new AgentClient({
          agent: { id: '001', name: 'a1', ip: 'any', key: '${'d'.repeat(64)}' },
          servers: [{ address: '127.0.0.1', port: ${port} }],
          ${how === 'persistent: false' ? 'persistent: false,' : ''}
        });
        agent.on('reconnectScheduled', ({ delay }) => console.log('retry in ' + delay));
        agent.start().catch(() => {});
        ${how === 'unref()' ? 'agent.unref();' : ''}
      `;
      child = spawn(process.execPath, ['--input-type=module', '-e', program], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = lines(child);
      const code = await exitWithin(child, 10_000);
      expect(code, out.all.join('\n')).toBe(0);
      expect(out.all).toContain(`retry in ${DEFAULT_RETRY_INTERVAL}`); // it was running, and let the process go
    }, 30_000);
  }
});
