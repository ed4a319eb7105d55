import { beforeEach, describe, expect, it, vi } from 'vitest';

const host = vi.hoisted(() => ({ name: 'web 01', reads: 0 }));
vi.mock('node:os', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:os')>();
  return {
    ...actual,
    hostname: () => {
      host.reads++;
      return host.name;
    },
  };
});

const { resolveOptions } = await import('../../../src/config/index.js');
const { expectConfigError } = await import('./helpers.js');

const servers = [{ address: 'manager' }];

describe('resolveOptions default agent name', () => {
  beforeEach(() => {
    host.name = 'web 01';
  });

  it('uses the host name with invalid characters removed', () => {
    expect(resolveOptions({ servers }).enrollment.agentName).toBe('web01');
  });

  it("refuses the host name 'localhost' and says to set agentName", () => {
    host.name = 'localhost';
    const err = expectConfigError(() => resolveOptions({ servers }), 'enrollment.agentName', { value: 'localhost' });
    expect(err.message).toContain('enrollment.agentName');
  });

  it('refuses a host name that leaves no valid agent name', () => {
    host.name = '✓';
    expectConfigError(() => resolveOptions({ servers }), 'enrollment.agentName', { value: '' });
  });

  it('accepts a localhost host name when enrollment is off', () => {
    host.name = 'localhost';
    const r = resolveOptions({ servers, agent: { id: '001', name: 'agent1', key: 'k' } });
    expect(r.enrollment.enabled).toBe(false);
  });

  it('prefers an explicit agentName over a bad host name', () => {
    host.name = 'localhost';
    expect(resolveOptions({ servers, enrollment: { agentName: 'real-name' } }).enrollment.agentName).toBe('real-name');
  });

  it('reads the host name once per client, and not at all when uname and agentName are given', () => {
    resolveOptions({ servers }); // the first client of a host name also reads the rest of its uname
    host.reads = 0;
    const r = resolveOptions({ servers, enrollment: { enabled: false }, agent: { id: '001', name: 'agent1', key: 'k' } });
    expect(host.reads).toBe(1);
    expect(r.uname).toMatchObject({ nodename: 'web 01' });
    host.reads = 0;
    resolveOptions({ servers, uname: 'Linux |h |6 |#1 |x86_64', enrollment: { agentName: 'real-name' } });
    expect(host.reads).toBe(0);
  });

  it('follows a host name change from one client to the next', () => {
    const a = resolveOptions({ servers });
    host.name = 'db02';
    const b = resolveOptions({ servers });
    expect([a.enrollment.agentName, b.enrollment.agentName]).toEqual(['web01', 'db02']);
    expect([(a.uname as { nodename: string }).nodename, (b.uname as { nodename: string }).nodename]).toEqual(['web 01', 'db02']);
  });

  it('refuses a bad host name for every client that needs it, also after a client that did not', () => {
    host.name = 'localhost';
    expectConfigError(() => resolveOptions({ servers }), 'enrollment.agentName', { value: 'localhost' });
    expect(resolveOptions({ servers, agent: { id: '001', name: 'agent1', key: 'k' } }).enrollment.agentName).toBe('localhost');
    expectConfigError(() => resolveOptions({ servers }), 'enrollment.agentName', { value: 'localhost' });
    host.name = 'web 01';
    expect(resolveOptions({ servers }).enrollment).toMatchObject({ enabled: true, agentName: 'web01' });
  });
});
