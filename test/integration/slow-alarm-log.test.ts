// ALARM_SLOW_LOG_MS: a real alarm (aedes, mqtt.js, SQLite, the Twilio SDK against the local server) slower than the threshold is logged once with its stages.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ManualClock } from '../../gateway/core/clock.js';
import { createLogger } from '../../gateway/core/logger.js';
import type { SlowAlarmReport } from '../../gateway/metrics/slow-alarms.js';
import type { Gateway } from '../../gateway/app.js';
import { API_TOKEN, connectDevice, startPostgresTestGateway, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { PostgresFixture } from '../helpers/postgres.js';
import { shanghaiLast } from '../helpers/calendar.js';
import { waitFor } from '../helpers/wait.js';

/** A Thursday 10:00 in Shanghai (inside the day shifts), the latest before today. */
const LAST_THURSDAY_10 = shanghaiLast(4, 10);
const W1 = '+8613900000001';
/** How long the event loop is held once the alarm is recorded: what makes the alarm slow, as a GC or a busy node would. */
const HOLD_MS = 60;

type Line = SlowAlarmReport & { level: number; msg: string; part?: string };

describe('slow-alarm log', () => {
  let t: TestGateway<Gateway> | null = null;
  let pg: PostgresFixture | null = null;
  let button: MqttClient | null = null;
  const lines: string[] = [];
  const slowLines = (): Line[] =>
    lines.map((l) => JSON.parse(l) as Line).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('slow alarm'));

  afterEach(async () => {
    await button?.endAsync();
    await t?.stop();
    button = null;
    t = null;
    lines.length = 0;
  });
  afterAll(async () => pg?.stop());

  /**
   * Starts a gateway at this threshold whose event loop is held `holdMs` right after each alarm is recorded (or, with
   * `afterSend`, once the first page's provider answer is being stored), and presses once.
   */
  const pressSlowly = async (
    threshold: string,
    opts: { holdMs?: number; afterSend?: boolean; postgres?: boolean } = {},
  ): Promise<string> => {
    const holdMs = opts.holdMs ?? HOLD_MS;
    const hold = (): void => {
      const until = performance.now() + holdMs;
      while (performance.now() < until);
    };
    const log = createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } });
    const options = { clock: new ManualClock(LAST_THURSDAY_10), log, env: { ALARM_SLOW_LOG_MS: threshold } };
    if (opts.postgres) {
      pg ??= await PostgresFixture.start();
      t = await startPostgresTestGateway(await pg.freshUrl(), options);
    } else t = await startTestGateway(options);
    const gateway = t.gateway;
    // Registered after the gateway's own listener: the processor has taken the signal, its transaction not yet begun.
    if (!opts.afterSend)
      gateway.bus.on(gateway, 'signalReceived', (signal) => {
        if (signal.type === 'sos') hold();
      });
    // The provider has the page (its id is known): the send started before this, whatever comes after.
    else
      gateway.bus.on(gateway, 'smsStatusChanged', (msg) => {
        if (msg.purpose === 'page' && msg.step === 1 && msg.providerSid) hold();
      });
    button = await connectDevice(t.mqttUrl, 'btn-001', 's3cret-btn-001');
    await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
    await t.sms.waitForMessage((m) => m.to === W1 && m.body.includes('回1'));
    // The first-page histogram is observed after the log's check (same onSent): once it counts the page, the check ran.
    await waitFor('the first page measured', async () =>
      (await gateway.metrics.registry.getSingleMetricAsString('alarm_to_first_sms_seconds')).includes('alarm_to_first_sms_seconds_count 1'),
    );
    const res = await fetch(`${t.httpUrl}/api/incidents`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    const [incident] = (await res.json()) as { id: string }[];
    return incident!.id;
  };

  it('logs a real alarm over the threshold once, naming the device, the incident, the total and each stage', async () => {
    const incidentId = await pressSlowly('20');
    const slow = slowLines();
    expect(slow).toHaveLength(1);
    const line = slow[0]!;
    expect(line).toMatchObject({ level: 40, part: 'alarms', deviceId: 'btn-001', incidentId });
    expect(line.eventId).toBeGreaterThan(0);
    const stages = [line.recordMs, line.queueMs, line.beginMs, line.transactionMs, line.sendMs];
    for (const ms of stages) expect(ms).toBeGreaterThanOrEqual(0);
    // The stages split the total, and the held loop shows where it was held: before the transaction began.
    expect(stages.reduce((a, b) => a + b, 0)).toBeCloseTo(line.totalMs, 0);
    expect(line.totalMs).toBeGreaterThanOrEqual(HOLD_MS);
    expect(line.beginMs).toBeGreaterThanOrEqual(HOLD_MS);
    expect(line.lagMs).toBeGreaterThanOrEqual(HOLD_MS - 20);
    // The COMMIT's own time is part of the transaction's.
    expect(line.commitMs).toBeGreaterThan(0);
    expect(line.commitMs).toBeLessThanOrEqual(line.transactionMs);
    expect(line.gcCount).toBeGreaterThanOrEqual(0);
    expect(Math.abs(line.arrivedAt - Date.now())).toBeLessThan(60_000);
    // SQLite reads the resident in-process: nothing to say about a cache.
    expect(line).not.toHaveProperty('residentUncached');
    expect(line.msg).toMatch(/^slow alarm: [\d.]+ ms from arrival to its first SMS send, [\d.]+ of it waiting to begin \(event commit /);
  });

  it('on PostgreSQL too, saying the resident was read from the database the first time and its COMMIT time', async () => {
    const incidentId = await pressSlowly('20', { postgres: true });
    const [line, ...more] = slowLines();
    expect(more).toEqual([]);
    expect(line).toMatchObject({ deviceId: 'btn-001', incidentId, residentUncached: true });
    expect(line!.beginMs).toBeGreaterThanOrEqual(HOLD_MS);
    expect(line!.commitMs).toBeGreaterThan(0);
    expect(line!.commitMs).toBeLessThanOrEqual(line!.transactionMs);
    expect(line!.msg).toMatch(/incident transaction [\d.]+ \(COMMIT [\d.]+\).*; resident read from the database\)$/);
  });

  it('logs nothing for an alarm under the threshold', async () => {
    await pressSlowly('60000');
    expect(slowLines()).toEqual([]);
  });

  it('measures to the first send starting, not to its answer being stored (the log and alarm_to_first_sms_seconds alike)', async () => {
    await pressSlowly('250', { holdMs: 400, afterSend: true });
    expect(slowLines()).toEqual([]);
    const sum = /alarm_to_first_sms_seconds_sum ([\d.e-]+)/.exec(
      await t!.gateway.metrics.registry.getSingleMetricAsString('alarm_to_first_sms_seconds'),
    );
    expect(Number(sum?.[1])).toBeLessThan(0.25);
  });

  it('logs nothing when off (0), however slow the alarm', async () => {
    await pressSlowly('0');
    expect(slowLines()).toEqual([]);
  });
});
