// Row shapes and row-to-domain mappers of voice calls, shared by the SQLite and PostgreSQL engines.
import type { VoiceProviderName } from '../../notifiers/intent.js';
import type { CallChanges, CallStatus, VoiceCall } from '../../voice/repo.js';

export interface CallRow {
  id: string;
  incident_id: string;
  step: number;
  to_phone: string;
  person_id: string;
  role: string;
  name: string;
  provider: string;
  provider_call_id: string | null;
  status: string;
  key_pressed: string | null;
  created_at: number;
  updated_at: number;
  ended_at: number | null;
  error: string | null;
}

export const COLUMNS: Record<Exclude<keyof CallChanges, 'updatedAt'>, string> = {
  providerCallId: 'provider_call_id',
  status: 'status',
  key: 'key_pressed',
  endedAt: 'ended_at',
  error: 'error',
};

export function toCall(r: CallRow): VoiceCall {
  return {
    id: r.id,
    incidentId: r.incident_id,
    step: r.step,
    to: r.to_phone,
    personId: r.person_id,
    role: r.role === 'duty_contact' ? 'duty_contact' : 'worker',
    name: r.name,
    provider: r.provider as VoiceProviderName,
    providerCallId: r.provider_call_id,
    status: r.status as CallStatus,
    key: r.key_pressed,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    endedAt: r.ended_at,
    error: r.error,
  };
}
