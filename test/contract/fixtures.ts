// Fixtures of the store contract: a small registry of one street, and incidents, messages and records to store in it.
import type { Incident, OutboundSms, Responder } from '../../gateway/core/types.js';
import type { NewEvent, RegistrySnapshot } from '../../gateway/storage/ports.js';
import type { CareTask, Outage } from '../../gateway/supervision/types.js';
import type { UserRecord } from '../../gateway/accounts/types.js';
import type { OccurrenceRecord } from '../../gateway/visits/types.js';
import type { VoiceCall } from '../../gateway/voice/repo.js';

export const T0 = Date.UTC(2026, 10, 3, 2, 0, 0);
export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

export const SNAPSHOT: RegistrySnapshot = {
  communities: [
    { id: 'andali', name: '安达里社区', dutyContacts: [] },
    { id: 'baiquan', name: '百泉社区', dutyContacts: [] },
  ],
  residents: [
    { id: 'r-1', name: '张桂兰', community: 'andali', address: '安达里3号楼2门301', family: [] },
    { id: 'r-2', name: '王秀英', community: 'andali', address: '安达里5号楼1门102', family: [] },
    { id: 'r-3', name: '赵淑珍', community: 'baiquan', address: '百泉1号楼1门101', family: [] },
  ],
  workers: [{ id: 'w-1', name: '李红', phone: '+8613800000001', community: 'andali', shifts: [] }],
  devices: [
    { id: 'btn-1', kind: 'sos_button', resident: 'r-1', secretHash: 'scrypt$a' },
    { id: 'fall-1', kind: 'fall_sensor', resident: 'r-1', secretHash: 'scrypt$b' },
    { id: 'btn-3', kind: 'sos_button', resident: 'r-3', secretHash: 'scrypt$c' },
  ],
  volunteers: [{ id: 'v-1', name: '刘志愿', phone: '+8613900000001' }],
  visits: [{ id: 'vis-1', volunteer: 'v-1', resident: 'r-1', cron: '0 9 * * 2', durationMinutes: 60, activity: '陪聊' }],
};

export function incident(id: string, over: Partial<Incident> = {}): Incident {
  return {
    id,
    code: `C${id}`,
    residentId: 'r-1',
    communityId: 'andali',
    type: 'sos',
    state: 'open',
    step: 0,
    unassigned: false,
    plan: { frozenAt: T0, ackTimeoutSeconds: 120, fallCancelSeconds: 30, responders: [], family: [] },
    openedAt: T0,
    firstPagedAt: null,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    cancelledAt: null,
    signalCount: 1,
    lastSignalAt: T0,
    nextStepAt: null,
    ...over,
  };
}

export function sms(id: string, over: Partial<OutboundSms> = {}): OutboundSms {
  return {
    id,
    to: '+8613800000001',
    body: `【求助】${id}`,
    intent: null,
    priority: 'alarm',
    purpose: 'page',
    incidentId: null,
    step: null,
    role: null,
    personId: null,
    context: null,
    status: 'queued',
    provider: 'twilio',
    providerSid: null,
    attempts: 0,
    errorCode: null,
    error: null,
    createdAt: T0,
    sentAt: null,
    updatedAt: T0,
    ...over,
  };
}

export function voiceCall(id: string, over: Partial<VoiceCall> = {}): VoiceCall {
  return {
    id,
    incidentId: 'inc-1',
    step: 1,
    to: '+8613800000001',
    personId: 'w-1',
    role: 'worker',
    name: '李红',
    provider: 'twilio',
    providerCallId: null,
    status: 'queued',
    key: null,
    createdAt: T0,
    updatedAt: T0,
    endedAt: null,
    error: null,
    ...over,
  };
}

export function event(seq: number, over: Partial<NewEvent> = {}): NewEvent {
  return {
    deviceId: 'btn-1',
    seq,
    type: 'sos',
    payload: `{"seq":${seq}}`,
    payloadHash: `h${seq}`,
    deviceTs: null,
    receivedAt: T0 + seq,
    ...over,
  };
}

export function task(id: string, over: Partial<CareTask> = {}): CareTask {
  return {
    id,
    kind: 'device_offline',
    state: 'open',
    residentId: 'r-1',
    deviceId: 'btn-1',
    communityId: 'andali',
    workerId: 'w-1',
    detail: null,
    openedAt: T0,
    closedAt: null,
    closedBy: null,
    closeReason: null,
    closeNote: null,
    updatedAt: T0,
    ...over,
  };
}

export function outage(id: string, over: Partial<Outage> = {}): Outage {
  return {
    id,
    place: { kind: 'building', key: 'building:andali:安达里3号楼', communityId: 'andali', building: '安达里3号楼' },
    devices: [],
    openedAt: T0,
    closedAt: null,
    summary: null,
    page: null,
    updatedAt: T0,
    ...over,
  };
}

export function occurrence(start: number, over: Partial<OccurrenceRecord> = {}): OccurrenceRecord {
  return {
    visitId: 'vis-1',
    start,
    end: start + HOUR,
    volunteerId: 'v-1',
    residentId: 'r-1',
    status: 'scheduled',
    reassignedFrom: null,
    checkedInAt: null,
    checkedOutAt: null,
    doorUnansweredAt: null,
    missedAt: null,
    cancelledAt: null,
    creditedHours: 0,
    note: null,
    updatedAt: start,
    ...over,
  };
}

export function user(id: string, over: Partial<UserRecord> = {}): UserRecord {
  return {
    id,
    username: null,
    name: id,
    role: 'admin',
    community: null,
    workerId: null,
    volunteerId: null,
    phone: null,
    passwordHash: null,
    disabledAt: null,
    createdAt: T0,
    updatedAt: T0,
    lastLoginAt: null,
    ...over,
  };
}

export const WORKER: Responder = { role: 'worker', id: 'w-1', name: '李红', phone: '+8613800000001' };
