// Volunteer visits through the whole gateway: 到/走/没人 arrive as signed SMS on the same webhook as a worker's "1".
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { shanghaiDate, shanghaiLast } from '../helpers/calendar.js';
import { ManualClock } from '../../gateway/core/clock.js';
import { API_TOKEN, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import type { IncidentView } from '../../gateway/incidents/views.js';

const VOLUNTEER = '+8613700000001';
const W1 = '+8613900000001';
const THURSDAY_10_30 = shanghaiLast(4, 10, 30);
const THURSDAY = shanghaiDate(THURSDAY_10_30);

interface Occurrence {
  visit: string;
  volunteer: string;
  resident: string;
  status: string;
}

describe('visits through the gateway', () => {
  let t: TestGateway;
  let clock: ManualClock;

  beforeEach(async () => {
    // Last Thursday 10:30 in Asia/Shanghai; vis-01 (王奶奶 → 张桂兰) is at 11:00 on Tuesdays and Thursdays.
    clock = new ManualClock(THURSDAY_10_30);
    t = await startTestGateway({ clock });
  });
  afterEach(async () => {
    await t.stop();
  });

  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${t.httpUrl}${path}`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as T;
  };
  const reply = (from: string, body: string) => t.sms.reply(from, body, { webhookUrl: `${t.publicUrl}/webhooks/twilio/sms` });
  const today = () => get<Occurrence[]>(`/api/visits?from=${THURSDAY}&to=${THURSDAY}`);

  it('checks a volunteer in with 到 and out with 走, by signed SMS, with no reminder sent first', async () => {
    expect((await today()).find((o) => o.visit === 'vis-01')?.status).toBe('scheduled');
    expect((await reply(VOLUNTEER, '到')).status).toBe(200);
    await waitFor('checked in', async () => (await today()).find((o) => o.visit === 'vis-01')?.status === 'checked_in');
    clock.advance(90 * 60 * 1000);
    expect((await reply(VOLUNTEER, 'Z')).status).toBe(200);
    await waitFor('done', async () => (await today()).find((o) => o.visit === 'vis-01')?.status === 'done');
    // A forged check-in changes nothing.
    const forged = await fetch(`${t.httpUrl}/webhooks/twilio/sms`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'forged' },
      body: new URLSearchParams({ From: VOLUNTEER, Body: '到' }).toString(),
    });
    expect(forged.status).toBe(403);
  });

  it("pages the resident's grid worker at once when the volunteer reports 没人", async () => {
    clock.advance(35 * 60 * 1000);
    await reply(VOLUNTEER, '没人');
    const page = await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    expect(page.body).toContain('敲门无人应');
    const incidents = await get<IncidentView[]>('/api/incidents');
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatchObject({ resident: 'r-001', type: 'door_unanswered', state: 'open' });
    // The worker's "1" still reaches the incident, not the visit.
    await reply(W1, '1');
    await waitFor('acknowledged', async () => (await get<IncidentView[]>('/api/incidents'))[0]?.state === 'acknowledged');
  });
});
