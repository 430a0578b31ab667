// Rules that used to live in the composition root: when /healthz says alarms are not OK, and the alarm-to-first-SMS latency.
import { describe, expect, it } from 'vitest';
import { alarmsOk } from '../../gateway/core/health.js';
import type { OutboundSms, Signal } from '../../gateway/core/types.js';
import { pageFailed } from '../../gateway/incidents/page-delivery.js';
import { FirstPageLatency } from '../../gateway/metrics/first-page.js';
import { DIVERTED_CODE } from '../../gateway/notifiers/dispatch-types.js';

const healthy = { databaseUp: true, signalFailures: 0, recording: true, smsProviders: [{ state: 'closed' }, { state: 'open' }] };

describe('alarmsOk', () => {
  it('holds while the database answers, signals are acted on, events are recorded and one SMS provider is usable', () => {
    expect(alarmsOk(healthy)).toBe(true);
    expect(alarmsOk({ ...healthy, signalFailures: 2 })).toBe(true);
  });

  it('fails on a database down, three processor failures in a row, no recording, or every provider breaker open', () => {
    expect(alarmsOk({ ...healthy, databaseUp: false })).toBe(false);
    expect(alarmsOk({ ...healthy, signalFailures: 3 })).toBe(false);
    expect(alarmsOk({ ...healthy, recording: false })).toBe(false);
    expect(alarmsOk({ ...healthy, smsProviders: [{ state: 'open' }, { state: 'half_open' }] })).toBe(false);
  });
});

describe('pageFailed', () => {
  it('counts failed and undelivered pages, but not one diverted to a call', () => {
    expect(pageFailed({ status: 'failed', errorCode: '30003' })).toBe(true);
    expect(pageFailed({ status: 'undelivered', errorCode: null })).toBe(true);
    expect(pageFailed({ status: 'failed', errorCode: DIVERTED_CODE })).toBe(false);
    expect(pageFailed({ status: 'delivered', errorCode: null })).toBe(false);
  });
});

function signal(type: Signal['type'], residentId: string, arrivedHr: number): Signal {
  return { eventId: 1, deviceId: 'btn-001', deviceKind: 'sos_button', residentId, type, seq: 1, receivedAt: 0, arrivedHr, payload: {} };
}

function page(incidentId: string, step: number, purpose: OutboundSms['purpose'] = 'page'): OutboundSms {
  return {
    id: `sms-${incidentId}-${step}`,
    to: '+8613900000001',
    body: '',
    intent: null,
    priority: 'alarm',
    purpose,
    incidentId,
    step,
    role: 'worker',
    personId: 'w-01',
    context: null,
    status: 'sent',
    provider: 'twilio',
    providerSid: null,
    attempts: 1,
    errorCode: null,
    error: null,
    createdAt: 0,
    sentAt: 0,
    updatedAt: 0,
  };
}

describe('FirstPageLatency', () => {
  it('observes the time from an alarm to the first step-1 page of its incident, once per alarm', async () => {
    const seconds: number[] = [];
    const incidents = new Map([['inc-1', { residentId: 'r-001' }]]);
    const latency = new FirstPageLatency({ incidents: { get: async (id) => incidents.get(id) ?? null }, observe: (s) => seconds.push(s) });
    latency.signalReceived(signal('heartbeat', 'r-001', 0));
    latency.signalReceived(signal('sos', 'r-001', 1000));
    latency.pageSent(page('inc-1', 2), 1500);
    latency.pageSent(page('inc-1', 1, 'page_link'), 1500);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seconds).toEqual([]);
    latency.pageSent(page('inc-1', 1), 1250);
    latency.pageSent(page('inc-1', 1), 1750);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seconds).toEqual([0.25]);
  });
});
