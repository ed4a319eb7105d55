/**
 * The accounting identities of a fleet report's event counts (docs/load-testing.md, "Events"),
 * asserted by every test that runs a fleet: a count that is renamed, dropped or miscounted fails here.
 */
import { expect } from 'vitest';
import type { FleetReport, FleetTotals } from 'agentlink/simulator';

/**
 * Asserts `generated = accepted + refused`, `accepted = written + evicted + cleared + unwritable`,
 * `dropped = refused + evicted + cleared + unwritable` (so `generated = written + dropped`), and,
 * with agentlink's managers, `lost = written - received >= 0`.
 *
 * @param e - the report's `events`.
 * @param received - whether the managers' count must be known (true: agentlink's managers).
 */
export function expectEventIdentities(e: FleetReport['events'], received = true): void {
  const d = e.droppedBy;
  const all = JSON.stringify(e);
  expect(e.generated, `generated = accepted + refused: ${all}`).toBe(e.accepted + d.refused);
  expect(e.accepted, `accepted = written + evicted + cleared + unwritable: ${all}`).toBe(e.written + d.evicted + d.cleared + d.unwritable);
  expect(e.dropped, `dropped = refused + evicted + cleared + unwritable: ${all}`).toBe(d.refused + d.evicted + d.cleared + d.unwritable);
  expect(e.generated, `generated = written + dropped: ${all}`).toBe(e.written + e.dropped);
  if (!received) {
    expect(e.received).toBeNull();
    expect(e.lost).toBeNull();
    return;
  }
  expect(e.received, all).not.toBeNull();
  expect(e.lost, `lost = written - received: ${all}`).toBe(e.written - e.received!);
  expect(e.lost!, all).toBeGreaterThanOrEqual(0);
}

/**
 * Asserts the same identities on a stopped fleet's totals (`Fleet.stop()`).
 *
 * @param t - the totals.
 */
export function expectTotalsIdentities(t: FleetTotals): void {
  const all = JSON.stringify({ ...t, distribution: undefined, errors: undefined, errorSamples: undefined, limits: undefined });
  expect(t.eventsGenerated, `generated = accepted + refused: ${all}`).toBe(t.eventsAccepted + t.eventsRefused);
  expect(t.eventsAccepted, `accepted = written + evicted + cleared + unwritable: ${all}`).toBe(t.eventsWritten + t.eventsEvicted + t.eventsCleared + t.eventsUnwritable);
  expect(t.eventsDropped, `dropped = refused + evicted + cleared + unwritable: ${all}`).toBe(t.eventsRefused + t.eventsEvicted + t.eventsCleared + t.eventsUnwritable);
  expect(t.eventsGenerated, `generated = written + dropped: ${all}`).toBe(t.eventsWritten + t.eventsDropped);
}
