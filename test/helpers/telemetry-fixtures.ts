// Realistic gateway objects (signals, incidents, audit entries, SMS) for the telemetry tests, shaped as the alarm path emits them.
import type { AuditEntry, EventType, Incident, IncidentState, OutboundSms, Signal, SmsStatus } from '../../gateway/core/types.js';

export function signalOf(opts: { type: EventType; seq: number; at: number; deviceId?: string; residentId?: string; battery?: number }): Signal {
  const deviceId = opts.deviceId ?? 'btn-001';
  const deviceKind = deviceId.startsWith('fall') ? 'fall_sensor' : 'sos_button';
  const payload: Record<string, unknown> = { type: opts.type, seq: opts.seq };
  if (opts.battery !== undefined) payload.battery = opts.battery;
  return {
    eventId: 1000 + opts.seq,
    deviceId,
    deviceKind,
    residentId: opts.residentId ?? 'r-001',
    type: opts.type,
    seq: opts.seq,
    deviceTs: new Date(opts.at - 120).toISOString(),
    receivedAt: opts.at,
    payload,
  };
}

/** An sos incident of r-001 (张桂兰) opened at `openedAt`, paged 2 s later, with a frozen plan naming real people. */
export function incidentOf(opts: { state: IncidentState; openedAt: number; id?: string; ackAfterS?: number; resolveAfterS?: number }): Incident {
  const { openedAt } = opts;
  const acknowledged = opts.state === 'acknowledged' || opts.state === 'resolved';
  return {
    id: opts.id ?? 'inc-20261126-0001',
    code: 'K7Q2M',
    residentId: 'r-001',
    communityId: 'andali',
    type: 'sos',
    state: opts.state,
    step: opts.state === 'pending' ? 0 : 1,
    unassigned: false,
    plan: {
      frozenAt: openedAt,
      ackTimeoutSeconds: 180,
      fallCancelSeconds: 30,
      responders: [{ role: 'worker', id: 'w-01', name: '李明', phone: '+8613900000001', distanceM: 120 }],
      family: [{ name: '张伟', relation: '儿子', phone: '+8613800000001' }],
    },
    openedAt,
    firstPagedAt: opts.state === 'pending' ? null : openedAt + 2000,
    acknowledgedAt: acknowledged ? openedAt + (opts.ackAfterS ?? 95) * 1000 : null,
    acknowledgedBy: acknowledged ? { role: 'worker', id: 'w-01', name: '李明', phone: '+8613900000001' } : null,
    resolvedAt: opts.state === 'resolved' ? openedAt + (opts.resolveAfterS ?? 1500) * 1000 : null,
    cancelledAt: null,
    signalCount: 1,
    lastSignalAt: openedAt,
    nextStepAt: opts.state === 'open' ? openedAt + 182_000 : null,
  };
}

export function auditOf(incident: Incident, action: string, at: number): AuditEntry {
  return {
    id: 1,
    incidentId: incident.id,
    at,
    action,
    actor: action === 'acknowledged' ? 'worker:w-01' : 'system',
    channel: action === 'acknowledged' ? 'sms' : 'system',
    detail: { by: '李明', role: 'worker', phone: '+8613900000001' },
  };
}

/** The three audit entries and incident states an acknowledged and resolved sos goes through, as incidentChanged carries them. */
export function lifecycleOf(openedAt: number, id?: string): [Incident, AuditEntry][] {
  const base = { openedAt, ...(id ? { id } : {}) };
  const opened = incidentOf({ ...base, state: 'open' });
  const acked = incidentOf({ ...base, state: 'acknowledged' });
  const resolved = incidentOf({ ...base, state: 'resolved' });
  return [
    [{ ...opened, firstPagedAt: null, step: 0 }, auditOf(opened, 'opened', openedAt)],
    [opened, auditOf(opened, 'paged', openedAt + 2000)],
    [acked, auditOf(acked, 'acknowledged', acked.acknowledgedAt ?? openedAt)],
    [resolved, auditOf(resolved, 'resolved', resolved.resolvedAt ?? openedAt)],
  ];
}

export function smsOf(opts: { status: SmsStatus; at: number; attempts?: number; incidentId?: string }): OutboundSms {
  return {
    id: `sms-${opts.at}`,
    to: '+8613900000001',
    body: '【紧急】张桂兰（安达里3号楼2门401）按下了求助按钮。回复1确认前往。',
    purpose: 'page',
    incidentId: opts.incidentId ?? 'inc-20261126-0001',
    step: 1,
    role: 'worker',
    personId: 'w-01',
    context: { kind: 'incident', incidentId: opts.incidentId ?? 'inc-20261126-0001' },
    status: opts.status,
    provider: 'twilio',
    providerSid: 'SM0123456789abcdef0123456789abcdef',
    attempts: opts.attempts ?? 1,
    errorCode: null,
    error: null,
    createdAt: opts.at - 500,
    sentAt: opts.at - 400,
    updatedAt: opts.at,
  };
}

/** Every personal value in the test registry and fixtures: none of these may appear in a tag. */
export const PERSONAL_VALUES = [
  '张桂兰', '王淑珍', '张伟', '张丽', '李明', '赵强', '孙红', '周勇', '王奶奶',
  '+8613800000001', '+8613800000002', '+8613900000001', '+8618200000001',
  '安达里3号楼2门401', '安达里5号楼1门202', '2门401', '1门202',
];
