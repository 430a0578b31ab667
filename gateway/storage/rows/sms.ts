// Row shapes and row-to-domain mappers of the SMS log, shared by the SQLite and PostgreSQL engines.
import type { MessageIntent, OutboundSms, ResponderRole, SmsContext, SmsProviderName, SmsPurpose, SmsStatus } from '../../core/types.js';

export interface SmsRow {
  id: string;
  to_phone: string;
  body: string;
  purpose: string;
  incident_id: string | null;
  step: number | null;
  role: string | null;
  person_id: string | null;
  context: string | null;
  intent: string | null;
  priority: string;
  status: string;
  provider: string;
  provider_sid: string | null;
  attempts: number;
  error_code: string | null;
  error: string | null;
  created_at: number;
  sent_at: number | null;
  updated_at: number;
}

export function toSms(r: SmsRow): OutboundSms {
  return {
    id: r.id,
    to: r.to_phone,
    body: r.body,
    purpose: r.purpose as SmsPurpose,
    incidentId: r.incident_id,
    step: r.step,
    role: r.role as ResponderRole | null,
    personId: r.person_id,
    context: r.context ? (JSON.parse(r.context) as SmsContext) : null,
    intent: r.intent ? (JSON.parse(r.intent) as MessageIntent) : null,
    priority: r.priority === 'alarm' ? 'alarm' : 'routine',
    status: r.status as SmsStatus,
    provider: providerName(r.provider),
    providerSid: r.provider_sid,
    attempts: r.attempts,
    errorCode: r.error_code,
    error: r.error,
    createdAt: r.created_at,
    sentAt: r.sent_at,
    updatedAt: r.updated_at,
  };
}

export function providerName(name: string): SmsProviderName {
  return name === 'twilio' || name === 'aliyun' || name === 'tencent' ? name : 'outbox';
}
