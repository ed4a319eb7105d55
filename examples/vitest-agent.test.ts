/**
 * Testing an agent program against a manager you can break: a small log shipper built on
 * AgentClient, tested with vitest against MockManager on 127.0.0.1 with faults switched on and off.
 *
 * Run: npx vitest run --config examples/vitest.config.ts
 * (In your own project: `import { MockManager } from 'agentlink/testing'` in any vitest file.)
 */
import { AgentClient } from 'agentlink';
import type { AgentClientOptions, AgentClientStats } from 'agentlink';
import { KeyStore, MockManager } from 'agentlink/testing';
import { afterEach, describe, expect, it } from 'vitest';

// ---------------------------------------------------------------------------------------------
// The program under test. In a real project this lives in its own module.

/** Ships log lines to a Wazuh manager and keeps count of what it could not deliver. */
class LineShipper {
  readonly agent: AgentClient;
  refused = 0;

  constructor(options: AgentClientOptions) {
    this.agent = new AgentClient(options);
    this.agent.on('error', () => {}); // failed attempts are reported here; the agent retries on its own
    this.agent.on('drop', () => this.refused++);
  }

  start(): Promise<void> {
    return this.agent.start();
  }

  ship(line: string): void {
    this.agent.sendEvent({ location: '/var/log/app.log', message: line });
  }

  stats(): AgentClientStats {
    return this.agent.stats();
  }

  stop(): Promise<void> {
    return this.agent.stop({ drainTimeout: 2000 });
  }
}

// ---------------------------------------------------------------------------------------------
// The tests.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const keys = new KeyStore();
const [key] = keys.generate(1); // agent001 with a random 64-hex key, known to every MockManager below

async function startManager(name: string): Promise<MockManager> {
  const manager = new MockManager({ keys, name }); // 127.0.0.1, a free port
  cleanups.push(() => manager.close()); // registered right away: closed even when the test fails
  await manager.start();
  return manager;
}

/** A shipper with short timers so faults show within a second or two. */
function shipper(managers: MockManager[]): LineShipper {
  const s = new LineShipper({
    agent: key!,
    servers: managers.map((m) => ({ ...m.address, maxRetries: 2, retryInterval: 100 })),
    notifyTime: 200, // keepalive every 200 ms
    timeReconnect: 800, // a server silent for 800 ms is lost
    handshakeTimeout: 1000, // a server that accepts but never ACKs the startup fails the attempt after 1 s
    connectTimeout: 1000,
  });
  cleanups.push(() => s.stop());
  return s;
}

function lines(from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `line ${from + i}`);
}

describe('LineShipper', () => {
  it('delivers every line, in order', async () => {
    const manager = await startManager('node1');
    const s = shipper([manager]);
    await s.start();
    for (const line of lines(0, 20)) s.ship(line);
    const got = await manager.waitForEvents((e) => e.location === '/var/log/app.log', { count: 20 });
    expect(got.map((e) => e.message)).toEqual(lines(0, 20));
  });

  it('keeps lines while the manager refuses connections and delivers them once it is back', async () => {
    const manager = await startManager('node1');
    await manager.setFaults({ refuseConnections: true }); // connects get ECONNREFUSED, as when remoted is down
    const s = shipper([manager]);
    const started = s.start();
    for (const line of lines(0, 10)) s.ship(line); // queued in the client buffer meanwhile

    await expect.poll(() => s.stats().failedAttempts).toBeGreaterThanOrEqual(2);
    expect(s.agent.connected).toBe(false);

    await manager.clearFaults(); // remoted is back
    await started;
    const got = await manager.waitForEvents((e) => e.location === '/var/log/app.log', { count: 10 });
    expect(got.map((e) => e.message)).toEqual(lines(0, 10));
    expect(s.refused).toBe(0);
  });

  it('leaves a silent (blackholed) manager for the next one and accounts for every line', async () => {
    const node1 = await startManager('node1');
    const node2 = await startManager('node2');
    const s = shipper([node1, node2]);
    await s.start();
    for (const line of lines(0, 10)) s.ship(line);
    await node1.waitForEvents((e) => e.message === 'line 9');

    await node1.setFaults({ blackhole: true }); // accepts and reads, never answers: a hung remoted
    for (const line of lines(10, 20)) s.ship(line); // these go into a connection nobody reads

    // no ACK for timeReconnect: the agent gives up on node1 (ERR_SERVER_SILENT), retries it, moves to node2
    await expect.poll(() => s.agent.connected && s.agent.server?.port === node2.port, { timeout: 10_000 }).toBe(true);
    for (const line of lines(20, 30)) s.ship(line);
    await node2.waitForEvents((e) => e.message === 'line 29', { timeout: 5000 });

    const received = new Set([...node1.receivedEvents(), ...node2.receivedEvents()].map((e) => e.message));
    const missing = lines(0, 30).filter((l) => !received.has(l));
    // Lines written to node1 after its last ACK may be lost in flight; the agent counts them.
    expect(missing.length).toBeLessThanOrEqual(s.stats().eventsUnconfirmedOnLostConnections);
    expect(s.stats().failovers).toBe(1);
    // Nothing queued after the failover is lost.
    expect(lines(20, 30).every((l) => received.has(l))).toBe(true);
  });
});
