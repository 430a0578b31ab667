// The voice feature's storage port: each call to a responder with its outcome, and per-number call counts for the caps.
import type { VoiceProviderName } from '../notifiers/intent.js';

/**
 * Where a call stands. `queued` → `placing` → `ringing` → `in_progress`, then one outcome: `acknowledged` (key 1),
 * `declined` (key 2), `answered_no_key`, `busy`, `no_answer`, `failed`; `capped` when a provider cap kept it from
 * being placed, `not_needed` when the incident was taken before the call could be placed.
 */
export type CallStatus =
  | 'queued'
  | 'placing'
  | 'ringing'
  | 'in_progress'
  | 'acknowledged'
  | 'declined'
  | 'answered_no_key'
  | 'busy'
  | 'no_answer'
  | 'failed'
  | 'capped'
  | 'not_needed';

export const OPEN_CALL_STATUSES: readonly CallStatus[] = ['queued', 'placing', 'ringing', 'in_progress'];

export interface VoiceCall {
  id: string;
  incidentId: string;
  /** The escalation step whose SMS page went unanswered. */
  step: number;
  to: string;
  personId: string;
  role: 'worker' | 'duty_contact';
  name: string;
  provider: VoiceProviderName;
  /** The provider's id of the call (Twilio CallSid, Tencent CallId); null until it is placed. */
  providerCallId: string | null;
  status: CallStatus;
  /** The last key pressed, if any. */
  key: string | null;
  createdAt: number;
  updatedAt: number;
  endedAt: number | null;
  /** Why it failed or was not placed, in words for the timeline. */
  error: string | null;
}

export type CallChanges = Partial<Pick<VoiceCall, 'providerCallId' | 'status' | 'key' | 'endedAt' | 'error'>> & { updatedAt: number };

export interface VoiceCallRepo {
  create(call: VoiceCall): Promise<void>;
  get(id: string): Promise<VoiceCall | null>;
  getByProviderId(provider: VoiceProviderName, providerCallId: string): Promise<VoiceCall | null>;
  /** Applies the changes only while the call's status is one of `from`: true for the one caller that moved it. */
  transition(id: string, from: readonly CallStatus[], changes: CallChanges): Promise<boolean>;
  listForIncident(incidentId: string): Promise<VoiceCall[]>;
  /** Calls recorded but not yet handed to the provider (`queued`, `placing`): what a restart must finish. */
  listUnplaced(): Promise<VoiceCall[]>;
  /** Calls placed to this number through this provider at or after `since` (the caps' counters). */
  countPlaced(provider: VoiceProviderName, phone: string, since: number): Promise<number>;
  /** Counts a placed call; entries older than `pruneBefore` are dropped on the way. */
  recordPlaced(provider: VoiceProviderName, phone: string, at: number, pruneBefore: number): Promise<void>;
}
