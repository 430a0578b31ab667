// Pure alarm rules: (signal, the resident's active incident, settings) -> what should happen. No I/O, no clock reads.
import type { EscalationSettings, Incident, Signal } from '../core/types.js';

export type RuleDecision =
  /** Open a new incident: `open` pages at once; `pending` waits for a cancel first (a fall). */
  | { kind: 'open'; type: 'sos' | 'fall'; state: 'open' | 'pending' }
  /** Add the signal to the active incident; `openNow` ends a pending cancel window and pages now. */
  | { kind: 'join'; incidentId: string; openNow: boolean }
  /** A cancel before anyone was paged: a false alarm. */
  | { kind: 'cancel'; incidentId: string }
  /** A cancel after people were paged: recorded, but only a person can stand the response down. */
  | { kind: 'cancel_after_page'; incidentId: string }
  | { kind: 'ignore'; reason: string };

export function decide(signal: Signal, active: Incident | null, settings: EscalationSettings): RuleDecision {
  switch (signal.type) {
    case 'sos':
      if (active) return { kind: 'join', incidentId: active.id, openNow: active.state === 'pending' };
      return { kind: 'open', type: 'sos', state: 'open' };
    case 'fall':
      if (active) return { kind: 'join', incidentId: active.id, openNow: false };
      return { kind: 'open', type: 'fall', state: settings.fallCancelSeconds > 0 ? 'pending' : 'open' };
    case 'cancel':
      if (!active) return { kind: 'ignore', reason: 'cancel with no active incident' };
      if (active.state === 'pending') return { kind: 'cancel', incidentId: active.id };
      return { kind: 'cancel_after_page', incidentId: active.id };
    case 'motion':
    case 'heartbeat':
    case 'low_battery':
      return { kind: 'ignore', reason: `${signal.type} is not an alarm` };
  }
}
