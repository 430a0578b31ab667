// GET /api/stream over real HTTP: a button press reaches the right dashboards as a full incident view, scoped per role.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { SseClient, SSE_RETRY_MS } from '../../gateway/http/routes/stream.js';
import { API_TOKEN, connectDevice } from '../helpers/gateway.js';
import { startDashboardGateway, type DashboardGateway } from '../helpers/dashboard-gateway.js';
import { SseReader } from '../helpers/sse.js';
import { waitFor } from '../helpers/wait.js';

describe('live feed over server-sent events', () => {
  let dg: DashboardGateway;
  const devices: MqttClient[] = [];
  const readers: SseReader[] = [];
  const session: Record<string, { cookie: string; csrf: string }> = {};

  const open = async (who: string): Promise<SseReader> => {
    const s = session[who];
    if (!s) throw new Error(`no session for ${who}`);
    const reader = await SseReader.open(`${dg.url}/api/stream`, { cookie: s.cookie });
    readers.push(reader);
    return reader;
  };

  beforeAll(async () => {
    dg = await startDashboardGateway({ heartbeatMs: 200 });
    await dg.addUser('officer', 'duty_officer');
    await dg.addUser('limin', 'worker', { workerId: 'w-01' });
    await dg.addUser('qianfang', 'worker', { workerId: 'w-09' });
    await dg.addUser('wangnn', 'volunteer', { volunteerId: 'v-01' });
    for (const who of ['admin', 'officer', 'limin', 'qianfang', 'wangnn'])
      session[who] = await dg.signIn(who, who === 'admin' ? 'admin-password-123' : undefined);
  });

  afterAll(async () => {
    for (const r of readers) r.close();
    for (const d of devices) await d.endAsync();
    await dg?.stop();
  });

  it('refuses a caller without a session or token (401, no stream)', async () => {
    const res = await fetch(`${dg.url}/api/stream`);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toContain('application/json');
  });

  it('opens as text/event-stream with a retry delay and keeps itself alive with comments', async () => {
    const reader = await open('officer');
    expect(reader.status).toBe(200);
    expect(reader.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(reader.headers.get('cache-control')).toBe('no-store');
    await waitFor('retry field', () => reader.retry !== null, { timeoutMs: 2000, intervalMs: 10 });
    expect(reader.retry).toBe(SSE_RETRY_MS);
    await waitFor('heartbeat', () => reader.comments.includes('ping'), { timeoutMs: 2000, intervalMs: 10 });
  });

  it('pushes a pressed button to staff as the full incident view, to the right worker only, never to a volunteer', async () => {
    const officer = await open('officer');
    const admin = await open('admin');
    const ownWorker = await open('limin');
    const otherWorker = await open('qianfang');
    const volunteer = await open('wangnn');
    const bearer = await SseReader.open(`${dg.url}/api/stream`, { authorization: `Bearer ${API_TOKEN}` });
    readers.push(bearer);
    await waitFor('six subscribers', () => dg.live.clientCount() >= 6, { timeoutMs: 2000, intervalMs: 10 });

    const button = await connectDevice(dg.mqttUrl, 'btn-001', 's3cret-btn-001');
    devices.push(button);
    // The SMS provider answers nothing until released: the board must hear of the press without waiting for paging.
    dg.sms.holdAnswers();
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });

    const seen = await officer.waitFor<IncidentView>('incident', (v) => v.resident === 'r-001' && v.state === 'open');
    expect(dg.sms.messages()).toEqual([]);
    dg.sms.releaseAnswers();
    expect(seen.residentName).toBe('张桂兰');
    expect(seen.residentCard?.building).toBe('安达里3号楼');
    expect(seen.residentCard?.keyHolder).toBe('刘阿姨 +8613600000001');
    expect(seen.plan.responders.length).toBeGreaterThan(0);
    expect(seen.nextStepAt).toBeGreaterThan(seen.openedAt);

    // Delivery receipts follow as updates of the same incident: the board needs no refetch.
    await officer.waitFor<IncidentView>('incident', (v) => v.id === seen.id && v.pages.some((p) => p.status === 'delivered'));
    await admin.waitFor<IncidentView>('incident', (v) => v.id === seen.id);
    await bearer.waitFor<IncidentView>('incident', (v) => v.id === seen.id);
    await ownWorker.waitFor<IncidentView>('incident', (v) => v.id === seen.id);

    // Let the other community's worker and the volunteer have the same chance to (wrongly) hear of it.
    await new Promise((r) => setTimeout(r, 300));
    expect(otherWorker.data<IncidentView>('incident')).toEqual([]);
    expect(volunteer.data('incident')).toEqual([]);
    expect(volunteer.events.filter((e) => e.event !== 'message')).toEqual([]);
  });

  it('tells the other community worker about their own incidents, and sends device status changes scoped the same way', async () => {
    const other = await open('qianfang');
    const own = await open('limin');
    await waitFor('subscribers', () => dg.live.clientCount() >= 2, { timeoutMs: 2000, intervalMs: 10 });
    const button = await connectDevice(dg.mqttUrl, 'btn-101', 's3cret-btn-101');
    devices.push(button);
    await button.publishAsync('care/v1/btn-101/status', 'online', { qos: 1, retain: true });
    await button.publishAsync('care/v1/btn-101/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    const view = await other.waitFor<IncidentView>('incident', (v) => v.resident === 'r-101');
    expect(view.communityId).toBe('xinhua');
    await other.waitFor<{ deviceId: string }>('device', (d) => d.deviceId === 'btn-101');
    await new Promise((r) => setTimeout(r, 300));
    expect(own.data<IncidentView>('incident').filter((v) => v.resident === 'r-101')).toEqual([]);
    expect(own.data<{ deviceId: string }>('device').filter((d) => d.deviceId === 'btn-101')).toEqual([]);
  });

  it('an acknowledgement from the dashboard reaches the other open streams', async () => {
    const officer = await open('officer');
    const list = (await (
      await fetch(`${dg.url}/api/incidents?state=open`, { headers: { cookie: session.officer?.cookie ?? '' } })
    ).json()) as IncidentView[];
    const target = list.find((v) => v.resident === 'r-001');
    expect(target).toBeDefined();
    const s = session.limin;
    const res = await fetch(`${dg.url}/api/incidents/${target?.id ?? ''}/ack`, {
      method: 'POST',
      headers: { cookie: s?.cookie ?? '', 'x-csrf-token': s?.csrf ?? '', 'content-type': 'application/json', origin: dg.url },
      body: '{}',
    });
    expect(res.status).toBe(200);
    const acked = await officer.waitFor<IncidentView>('incident', (v) => v.id === target?.id && v.state === 'acknowledged');
    expect(acked.acknowledgedBy?.name).toBe('limin');
  });
});

describe('SSE backpressure and shutdown', () => {
  it('drops a client that stops reading once its buffer passes the bound, without ever waiting for it', async () => {
    let client: SseClient | null = null;
    const server: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      client = new SseClient({ kind: 'api_token', name: 't', role: 'admin' }, res, 256 * 1024);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no port');
    // A raw socket that sends the request and then never reads: its receive window fills, then our buffer does.
    const socket = connect(addr.port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    socket.pause();
    const sse = await waitFor('the SSE client of the stalled socket', () => client, { timeoutMs: 3000, intervalMs: 10 });
    const payload = { blob: 'x'.repeat(64 * 1024) };
    let sent = 0;
    // send() answers at once (a boolean, never a promise): the loop ends only because the client was dropped.
    while (sse.send('incident', payload) && sent < 10_000) {
      sent++;
      // Let the socket drain what the kernel will still take.
      if (sent % 16 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(sent).toBeLessThan(10_000);
    expect(sse.isClosed()).toBe(true);
    expect(sse.send('incident', { later: true })).toBe(false);
    socket.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('ends open streams when the app closes, so the gateway can stop', async () => {
    const dg = await startDashboardGateway();
    try {
      const s = await dg.signIn('admin', 'admin-password-123');
      const reader = await SseReader.open(`${dg.url}/api/stream`, { cookie: s.cookie });
      await waitFor('subscriber', () => dg.live.clientCount() === 1, { timeoutMs: 2000, intervalMs: 10 });
      // An open event stream is never idle, so the HTTP server's close waits for it: close() resolves only because the
      // app ends the streams itself first (otherwise it would wait for ever).
      await dg.app.close();
      expect(dg.live.clientCount()).toBe(0);
      await waitFor('stream end', () => reader.ended, { timeoutMs: 2000, intervalMs: 10 });
    } finally {
      await dg.stop();
    }
  });
});
