// What a device is re-told at session start, from its resident's incidents: the rule alone, on fixed instants.
import { describe, expect, it } from 'vitest';
import { currentCommand, RESOLVED_RESYNC_MS } from '../../gateway/incidents/device-state.js';
import { HOUR, incident, MIN, T0 } from '../contract/fixtures.js';

const worker = { role: 'worker' as const, id: 'w-01', name: '李明', phone: '+8613900000001' };

describe('currentCommand', () => {
  it('restates an active incident as its last transition did, with the seconds still left to cancel a fall', () => {
    const pending = incident('inc-1', { state: 'pending', nextStepAt: T0 + 30_000 });
    expect(currentCommand(pending, null, null, T0 + 12_500)).toEqual({
      type: 'alarm_received',
      incident: 'inc-1',
      state: 'pending',
      cancelWithinSeconds: 18,
      resync: true,
    });
    expect(currentCommand(incident('inc-1'), null, null, T0)).toEqual({
      type: 'alarm_received',
      incident: 'inc-1',
      state: 'open',
      resync: true,
    });
    const acked = incident('inc-1', { state: 'acknowledged', acknowledgedAt: T0 + MIN, acknowledgedBy: worker });
    // However long ago the device last connected: a fixture that rebooted must show "help is coming" again.
    expect(currentCommand(acked, null, T0 + 5 * MIN, T0 + 10 * MIN)).toEqual({
      type: 'responder_assigned',
      incident: 'inc-1',
      responder: '李明',
      role: 'worker',
      resync: true,
    });
  });

  it('tells an end only within the window, and only to a device that has not started a session since', () => {
    const resolved = incident('inc-1', { state: 'resolved', resolvedAt: T0 + HOUR });
    const told = { type: 'resolved', incident: 'inc-1', outcome: 'resolved', resync: true };
    expect(currentCommand(null, resolved, T0, T0 + 2 * HOUR)).toEqual(told);
    expect(currentCommand(null, resolved, null, T0 + 2 * HOUR)).toEqual(told);
    expect(currentCommand(null, resolved, T0 + HOUR + 1, T0 + 2 * HOUR)).toBeNull();
    expect(currentCommand(null, resolved, T0, T0 + HOUR + RESOLVED_RESYNC_MS)).toEqual(told);
    expect(currentCommand(null, resolved, T0, T0 + HOUR + RESOLVED_RESYNC_MS + 1)).toBeNull();
  });

  it('names the outcome as the live command did: cancelled, test ended, resolved', () => {
    const cancelled = incident('inc-1', { state: 'cancelled', cancelledAt: T0 + MIN });
    expect(currentCommand(null, cancelled, null, T0 + 2 * MIN)).toMatchObject({ type: 'resolved', outcome: 'cancelled' });
    const test = incident('inc-2', { state: 'resolved', resolvedAt: T0 + MIN, test: true });
    expect(currentCommand(null, test, null, T0 + 2 * MIN)).toMatchObject({ type: 'resolved', outcome: 'test_ended' });
  });

  it('has nothing to say for a resident with no incident', () => {
    expect(currentCommand(null, null, null, T0)).toBeNull();
    expect(currentCommand(null, null, T0, T0 + HOUR)).toBeNull();
  });
});
