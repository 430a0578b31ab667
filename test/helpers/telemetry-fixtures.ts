// Realistic gateway objects (signals, incidents, audit entries, SMS) for the telemetry tests, shaped as the alarm path emits them.
import type { AuditEntry, EventType, Incident, IncidentState, OutboundSms, Signal, SmsStatus } from '../../gateway/core/types.js';
import type { CareTask, Outage } from '../../gateway/supervision/types.js';

export function signalOf(opts: {
  type: EventType;
  seq: number;
  at: number;
  deviceId?: string;
  residentId?: string;
  battery?: number;
}): Signal {
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
export function incidentOf(opts: {
  state: IncidentState;
  openedAt: number;
  id?: string;
  ackAfterS?: number;
  resolveAfterS?: number;
}): Incident {
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
    intent: null,
    priority: 'alarm',
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
  '张桂兰',
  '王淑珍',
  '张伟',
  '张丽',
  '李明',
  '赵强',
  '孙红',
  '周勇',
  '王奶奶',
  '+8613800000001',
  '+8613800000002',
  '+8613900000001',
  '+8618200000001',
  '安达里3号楼2门401',
  '安达里5号楼1门202',
  '2门401',
  '1门202',
];

/** A low-battery task of r-001's button opened at `at`, closed by the system `closedAfterS` later when given. */
export function careTaskOf(opts: { at: number; closedAfterS?: number; id?: string }): CareTask {
  const closedAt = opts.closedAfterS === undefined ? null : opts.at + opts.closedAfterS * 1000;
  return {
    id: opts.id ?? 'task-20261126-0001',
    kind: 'low_battery',
    state: closedAt === null ? 'open' : 'closed',
    residentId: 'r-001',
    deviceId: 'btn-001',
    communityId: 'andali',
    workerId: 'w-01',
    detail: { deviceKind: 'sos_button', battery: 12 },
    openedAt: opts.at,
    closedAt,
    closedBy: closedAt === null ? null : 'system',
    closeReason: closedAt === null ? null : 'battery replaced',
    closeNote: null,
    updatedAt: closedAt ?? opts.at,
  };
}

/** A building outage of 安达里3号楼 with five devices, closed as recovered `closedAfterS` later when given (four back). */
export function outageOf(opts: { at: number; closedAfterS?: number; id?: string }): Outage {
  const closedAt = opts.closedAfterS === undefined ? null : opts.at + opts.closedAfterS * 1000;
  return {
    id: opts.id ?? 'out-20261126-0001',
    place: { kind: 'building', key: 'building:andali:安达里3号楼', communityId: 'andali', building: '安达里3号楼' },
    devices: ['btn-3-01', 'btn-3-02', 'btn-3-03', 'btn-3-04', 'btn-3-05'].map((deviceId, i) => ({
      deviceId,
      residentId: `r-${deviceId}`,
      droppedAt: opts.at,
      backAt: closedAt !== null && i < 4 ? closedAt : null,
    })),
    openedAt: opts.at,
    closedAt,
    summary: closedAt === null ? null : '安达里3号楼: 4/5 devices back',
    page: null,
    closedBy: closedAt === null ? null : 'system',
    closeReason: closedAt === null ? null : 'recovered',
    closeNote: null,
    updatedAt: closedAt ?? opts.at,
  };
}
