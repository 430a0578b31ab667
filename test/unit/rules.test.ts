// Alarm rules: which signals open, join, cancel or are ignored, given the resident's active incident.
import { describe, expect, it } from 'vitest';
import { DEFAULT_ESCALATION, type EventType, type Incident, type IncidentState, type Signal } from '../../gateway/core/types.js';
import { decide } from '../../gateway/rules/rules.js';

// 2026-11-26T02:00Z = Thursday 10:00 in Shanghai.
const NOW = Date.UTC(2026, 10, 26, 2, 0);

function signal(type: EventType): Signal {
  const deviceKind = type === 'fall' ? 'fall_sensor' : type === 'motion' ? 'motion_sensor' : 'sos_button';
  return { eventId: 7, deviceId: 'btn-001', deviceKind, residentId: 'r-001', type, seq: 3, receivedAt: NOW, payload: { type, seq: 3 } };
}

function incident(state: IncidentState, type: Incident['type'] = 'sos'): Incident {
  return {
    id: 'inc-1',
    code: 'K7Q2',
    residentId: 'r-001',
    communityId: 'andali',
    type,
    state,
    step: state === 'pending' ? 0 : 1,
    unassigned: false,
    plan: { frozenAt: NOW - 60_000, ackTimeoutSeconds: 180, fallCancelSeconds: 30, responders: [], family: [] },
    openedAt: NOW - 60_000,
    firstPagedAt: state === 'pending' ? null : NOW - 60_000,
    acknowledgedAt: state === 'acknowledged' ? NOW - 30_000 : null,
    acknowledgedBy: null,
    resolvedAt: null,
    cancelledAt: null,
    signalCount: 1,
    lastSignalAt: NOW - 60_000,
    nextStepAt: null,
  };
}

const settings = DEFAULT_ESCALATION; // fallCancelSeconds 30

describe('decide: sos', () => {
  it('opens an incident and pages at once when nothing is active', () => {
    expect(decide(signal('sos'), null, settings)).toEqual({ kind: 'open', type: 'sos', state: 'open', test: false });
  });

  it('opens at once even when falls would wait for a cancel', () => {
    expect(decide(signal('sos'), null, { ...settings, fallCancelSeconds: 120 })).toEqual({
      kind: 'open',
      type: 'sos',
      state: 'open',
      test: false,
    });
  });

  it('joins an open or acknowledged incident without paging again', () => {
    expect(decide(signal('sos'), incident('open'), settings)).toEqual({ kind: 'join', incidentId: 'inc-1', openNow: false });
    expect(decide(signal('sos'), incident('acknowledged'), settings)).toEqual({ kind: 'join', incidentId: 'inc-1', openNow: false });
  });

  it('ends the cancel window of a pending fall and pages now', () => {
    expect(decide(signal('sos'), incident('pending', 'fall'), settings)).toEqual({ kind: 'join', incidentId: 'inc-1', openNow: true });
  });
});

describe('decide: fall', () => {
  it('opens a pending incident that waits for a cancel', () => {
    expect(decide(signal('fall'), null, settings)).toEqual({ kind: 'open', type: 'fall', state: 'pending', test: false });
  });

  it('opens at once when there is no cancel window', () => {
    expect(decide(signal('fall'), null, { ...settings, fallCancelSeconds: 0 })).toEqual({
      kind: 'open',
      type: 'fall',
      state: 'open',
      test: false,
    });
  });

  it('joins an active incident without shortening its cancel window', () => {
    expect(decide(signal('fall'), incident('pending', 'fall'), settings)).toEqual({ kind: 'join', incidentId: 'inc-1', openNow: false });
    expect(decide(signal('fall'), incident('open'), settings)).toEqual({ kind: 'join', incidentId: 'inc-1', openNow: false });
  });
});

describe('decide: cancel', () => {
  it('cancels a pending incident as a false alarm', () => {
    expect(decide(signal('cancel'), incident('pending', 'fall'), settings)).toEqual({ kind: 'cancel', incidentId: 'inc-1' });
  });

  it('only records a cancel once people were paged', () => {
    expect(decide(signal('cancel'), incident('open'), settings)).toEqual({ kind: 'cancel_after_page', incidentId: 'inc-1' });
    expect(decide(signal('cancel'), incident('acknowledged'), settings)).toEqual({ kind: 'cancel_after_page', incidentId: 'inc-1' });
  });

  it('ignores a cancel with nothing active', () => {
    expect(decide(signal('cancel'), null, settings)).toMatchObject({ kind: 'ignore' });
  });
});

describe('decide: signs of life', () => {
  it.each(['motion', 'heartbeat', 'low_battery'] as const)('ignores %s, with or without an active incident', (type) => {
    expect(decide(signal(type), null, settings)).toEqual({ kind: 'ignore', reason: `${type} is not an alarm` });
    expect(decide(signal(type), incident('pending', 'fall'), settings)).toMatchObject({ kind: 'ignore' });
    expect(decide(signal(type), incident('open'), settings)).toMatchObject({ kind: 'ignore' });
  });
});

describe('decide: test presses', () => {
  const inWindow = { inTestWindow: true };
  const testIncident = (): Incident => ({ ...incident('open'), id: 'inc-test', test: true });

  it('opens a test incident, paged at once, for a press inside a test window', () => {
    expect(decide(signal('sos'), null, settings, inWindow)).toEqual({ kind: 'open', type: 'sos', state: 'open', test: true });
    expect(decide(signal('fall'), null, settings, inWindow)).toEqual({ kind: 'open', type: 'fall', state: 'open', test: true });
  });

  it('joins the test already open instead of paging again', () => {
    expect(decide(signal('sos'), testIncident(), settings, inWindow)).toEqual({ kind: 'join', incidentId: 'inc-test', openNow: false });
  });

  it('takes a press outside the window as a real alarm that ends the test', () => {
    expect(decide(signal('sos'), testIncident(), settings)).toEqual({
      kind: 'open',
      type: 'sos',
      state: 'open',
      test: false,
      endsTest: 'inc-test',
    });
    expect(decide(signal('fall'), testIncident(), settings)).toEqual({
      kind: 'open',
      type: 'fall',
      state: 'pending',
      test: false,
      endsTest: 'inc-test',
    });
  });

  it('lets a press in a test window join a real alarm already under way', () => {
    expect(decide(signal('sos'), incident('open'), settings, inWindow)).toEqual({ kind: 'join', incidentId: 'inc-1', openNow: false });
  });
});
