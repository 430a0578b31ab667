// Redelivery versus a reused seq: a resend (same connection, or flagged DUP, within the window) is absorbed and counted; a device whose counter restarted is heard.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../gateway/core/clock.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { DEFAULT_DEDUPE_WINDOW_MS } from '../../gateway/ingest/ingest.js';
import type { IncidentView } from '../../gateway/incidents/views.js';
import { startEdge, type Edge } from '../helpers/edge.js';
import { API_TOKEN, connectDevice, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const EVENT = 'care/v1/btn-001/event';
const SOS_1 = JSON.stringify({ type: 'sos', seq: 1 });

function publish(client: MqttClient, payload: string, opts: { dup?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(EVENT, payload, { qos: 1, dup: opts.dup ?? false }, (err) => (err ? reject(err) : resolve())),
  );
}

describe('ingest: redelivery window (edge)', () => {
  let edge: Edge | undefined;
  afterEach(async () => {
    await edge?.close();
    edge = undefined;
  });

  it('takes the same seq and bytes on a new connection without DUP as a new event (a button whose counter restarted)', async () => {
    edge = await startEdge();
    const before = await edge.connect('btn-001');
    await publish(before, SOS_1);
    await before.endAsync();
    // A battery change a minute later: the counter starts again at 1, and the press is a real one.
    edge.clock.advance(60_000);
    const after = await edge.connect('btn-001');
    await publish(after, SOS_1);
    expect(edge.seen.signals.map((s) => [s.type, s.seq])).toEqual([
      ['sos', 1],
      ['sos', 1],
    ]);
    expect(edge.ingest.stats()).toMatchObject({ accepted: 2, duplicates: 0 });
  });

  it('absorbs a DUP resend after a reconnect within the window, and counts it; after the window the same packet is new', async () => {
    edge = await startEdge();
    const redelivered: number[] = [];
    edge.bus.on({}, 'signalRedelivered', (r) => void redelivered.push(r.seq));
    const first = await edge.connect('btn-001');
    await publish(first, SOS_1);
    await first.endAsync();

    // The PUBACK was lost with the connection: the device reconnects and sends the packet again, flagged DUP.
    edge.clock.advance(30_000);
    const second = await edge.connect('btn-001');
    await publish(second, SOS_1, { dup: true });
    expect(edge.seen.signals).toHaveLength(1);
    expect(edge.ingest.stats()).toMatchObject({ accepted: 1, duplicates: 1 });
    expect(redelivered).toEqual([1]);

    // A DUP with other bytes under the same seq is not the same packet: it is heard.
    await publish(second, JSON.stringify({ type: 'cancel', seq: 1 }), { dup: true });
    expect(edge.seen.signals.map((s) => s.type)).toEqual(['sos', 'cancel']);

    edge.clock.advance(DEFAULT_DEDUPE_WINDOW_MS);
    await publish(second, SOS_1, { dup: true });
    expect(edge.seen.signals.map((s) => s.type)).toEqual(['sos', 'cancel', 'sos']);
    expect(edge.ingest.stats()).toMatchObject({ accepted: 3, duplicates: 1 });
  });
});

describe('ingest: redelivery window (whole gateway)', () => {
  let t: TestGateway | null = null;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await t?.stop();
    t = null;
  });

  const api = async <T>(path: string, method = 'GET'): Promise<T> => {
    const res = await fetch(`${t?.httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      ...(method === 'POST' ? { body: '{}' } : {}),
    });
    return (await res.json()) as T;
  };
  const button = async () => {
    const c = await connectDevice(t?.mqttUrl ?? '', 'btn-001', 's3cret-btn-001');
    clients.push(c);
    return c;
  };
  const duplicateMetric = async () => {
    const text = await (await fetch(`${t?.httpUrl}/metrics`)).text();
    return Number(/^events_duplicate_total (\d+)/m.exec(text)?.[1]);
  };

  it('opens a new incident for sos seq 1 sent again after the first was resolved and the button reconnected', async () => {
    // Thursday 10:00 in Asia/Shanghai: workers on duty.
    const clock = new ManualClock(shanghaiLast(4, 10));
    t = await startTestGateway({ clock });
    const first = await button();
    await publish(first, SOS_1);
    const incident = await waitFor('the first incident', async () => (await api<IncidentView[]>('/api/incidents'))[0]);
    await api(`/api/incidents/${incident.id}/resolve`, 'POST');
    await first.endAsync();

    clock.advance(2 * 60_000);
    await publish(await button(), SOS_1);
    const all = await waitFor('a second incident', async () => {
      const list = await api<IncidentView[]>('/api/incidents');
      return list.length === 2 ? list : null;
    });
    expect(all.map((i) => i.state)).toEqual(['open', 'resolved']);
    expect(await duplicateMetric()).toBe(0);
  });

  it('absorbs the DUP resend of an sos recorded before a restart, pages once, and counts it in events_duplicate_total', async () => {
    const clock = new ManualClock(shanghaiLast(4, 10));
    const dir = tempDir();
    try {
      t = await startTestGateway({ clock, dataDir: dir.path });
      const sms = t.sms;
      await publish(await button(), SOS_1);
      await sms.waitForMessage((m) => m.to === '+8613900000001' && m.body.includes('回1'));
      // The gateway goes down; as far as the device knows its PUBACK may never have come, so it resends with DUP.
      for (const c of clients.splice(0)) c.end(true);
      await t.stop({ keep: true });
      clock.advance(60_000);
      t = await startTestGateway({ clock, dataDir: dir.path, sms });
      await publish(await button(), SOS_1, { dup: true });

      expect(await duplicateMetric()).toBe(1);
      await t.gateway.processor.idle();
      const list = await api<IncidentView[]>('/api/incidents');
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ state: 'open', signalCount: 1 });
      expect(sms.messages().filter((m) => m.to === '+8613900000001' && m.body.includes('回1'))).toHaveLength(1);
      await t.stop();
      await sms.stop();
      t = null;
    } finally {
      dir.remove();
    }
  });
});
