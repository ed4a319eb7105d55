import { beforeEach, describe, expect, it, vi } from 'vitest';

const host = vi.hoisted(() => ({ name: 'web 01' }));
vi.mock('node:os', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:os')>();
  return { ...actual, hostname: () => host.name };
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
});
