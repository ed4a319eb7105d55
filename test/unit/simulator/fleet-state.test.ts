/**
 * A Fleet's run state changes only through its checked transitions (new → running → stopping →
 * stopped, or new → stopping → stopped), each announced by `stateChange`, as the agent's does.
 */
import { describe, expect, test } from 'vitest';
import { ToolError } from 'agentlink';
import { FLEET_TRANSITIONS, Fleet } from 'agentlink/simulator';
import type { FleetState } from 'agentlink/simulator';

const servers = [{ address: '127.0.0.1', port: 9, node: 'node1' }];

function watched(fleet: Fleet): string[] {
  const seen: string[] = [];
  fleet.on('stateChange', ({ from, to }) => seen.push(`${from} -> ${to}`));
  return seen;
}

describe('Fleet run state', () => {
  test('start and stop walk new -> running -> stopping -> stopped, each announced', async () => {
    const fleet = new Fleet({ indexes: [], servers });
    const seen = watched(fleet);
    expect(fleet.state).toBe('new');
    fleet.start();
    expect(fleet.state).toBe('running');
    const stopping = fleet.stop({ drainTimeout: 0 });
    expect(fleet.state).toBe('stopping');
    await stopping;
    expect(fleet.state).toBe('stopped');
    expect(seen).toEqual(['new -> running', 'running -> stopping', 'stopping -> stopped']);
    // stop is idempotent, and a stopped fleet does not start again
    await fleet.stop();
    expect(seen).toHaveLength(3);
    expect(() => fleet.start()).toThrow(ToolError);
    expect(fleet.state).toBe('stopped');
  });

  test('a fleet stopped before it started goes new -> stopping -> stopped', async () => {
    const fleet = new Fleet({ indexes: [], servers });
    const seen = watched(fleet);
    await fleet.stop({ drainTimeout: 0 });
    expect(seen).toEqual(['new -> stopping', 'stopping -> stopped']);
  });

  test('the transition table allows nothing out of stopped and no way back to new', () => {
    expect(FLEET_TRANSITIONS.stopped).toEqual([]);
    for (const from of Object.keys(FLEET_TRANSITIONS) as FleetState[]) expect(FLEET_TRANSITIONS[from]).not.toContain('new');
  });
});
