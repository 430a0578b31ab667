// Pure alarm rules: (signal, the resident's active incident, settings, test window) -> what should happen. No I/O, no clock reads.
import type { EscalationSettings, Incident, Signal } from '../core/types.js';

export type RuleDecision =
  /**
   * Open a new incident: `open` pages at once; `pending` waits for a cancel first (a fall). `test`: a weekly test
   * press, paged to the worker only. `endsTest`: the resident's open test incident, closed first because a real
   * alarm never waits behind a test.
   */
  | { kind: 'open'; type: 'sos' | 'fall'; state: 'open' | 'pending'; test: boolean; endsTest?: string }
  /** Add the signal to the active incident; `openNow` ends a pending cancel window and pages now. */
  | { kind: 'join'; incidentId: string; openNow: boolean }
  /** A cancel before anyone was paged: a false alarm. */
  | { kind: 'cancel'; incidentId: string }
  /** A cancel after people were paged: recorded, but only a person can stand the response down. */
  | { kind: 'cancel_after_page'; incidentId: string }
  | { kind: 'ignore'; reason: string };

/** Where the press happened: inside a test window of its device or building (test mode), or not. */
export interface PressContext {
  inTestWindow: boolean;
}

const REAL_PRESS: PressContext = { inTestWindow: false };

export function decide(
  signal: Signal,
  active: Incident | null,
  settings: EscalationSettings,
  press: PressContext = REAL_PRESS,
): RuleDecision {
  // A real alarm never joins a test: the test is closed and the alarm opens on its own, paging everyone.
  const activeTest = active?.test === true ? active : null;
  const realActive = activeTest ? null : active;
  switch (signal.type) {
    case 'sos':
    case 'fall': {
      if (realActive) return { kind: 'join', incidentId: realActive.id, openNow: signal.type === 'sos' && realActive.state === 'pending' };
      if (press.inTestWindow) {
        // A test joins the test already open (a second press, or another button of the building under test).
        if (activeTest) return { kind: 'join', incidentId: activeTest.id, openNow: false };
        return { kind: 'open', type: signal.type, state: 'open', test: true };
      }
      const state = signal.type === 'fall' && settings.fallCancelSeconds > 0 ? 'pending' : 'open';
      return { kind: 'open', type: signal.type, state, test: false, ...(activeTest ? { endsTest: activeTest.id } : {}) };
    }
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
