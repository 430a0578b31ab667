// The incident service skips rule reads for "informational" signal types: rules must ignore them in every incident state.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ESCALATION,
  EVENT_TYPES,
  type EventType,
  type Incident,
  type IncidentState,
  type Signal,
} from '../../gateway/core/types.js';
import { INFORMATIONAL } from '../../gateway/incidents/service.js';
import { decide } from '../../gateway/rules/rules.js';

const NOW = Date.UTC(2026, 10, 26, 2, 0);
const STATES: IncidentState[] = ['pending', 'open', 'acknowledged', 'resolved', 'cancelled'];

function signal(type: EventType): Signal {
  return {
    eventId: 7,
    deviceId: 'dev-001',
    deviceKind: 'sos_button',
    residentId: 'r-001',
    type,
    seq: 3,
    receivedAt: NOW,
    payload: { type, seq: 3 },
  };
}

function incident(state: IncidentState): Incident {
  return {
    id: 'inc-1',
    code: 'K7Q2',
    residentId: 'r-001',
    communityId: 'andali',
    type: 'sos',
    state,
    step: 1,
    unassigned: false,
    plan: { frozenAt: NOW, ackTimeoutSeconds: 180, fallCancelSeconds: 30, responders: [], family: [] },
    openedAt: NOW,
    firstPagedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    cancelledAt: null,
    signalCount: 1,
    lastSignalAt: NOW,
    nextStepAt: null,
  };
}

describe('INFORMATIONAL signal types', () => {
  it('are exactly the types decide() ignores with or without an active incident', () => {
    const ignoredEverywhere = EVENT_TYPES.filter((type) =>
      [null, ...STATES.map(incident)].every((active) => decide(signal(type), active, DEFAULT_ESCALATION).kind === 'ignore'),
    );
    expect([...INFORMATIONAL].sort()).toEqual([...ignoredEverywhere].sort());
  });
});
