// Alarm storm: N SOS from N residents' buttons within T seconds: none lost, each incident opened within 1 s of its PUBLISH, and how long the SMS backlog takes to drain.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../gateway/app.js';
import { loadConfig } from '../gateway/config/load.js';
import { silentLogger } from '../gateway/core/logger.js';
import { TwilioSimServer } from '../simulators/sms/twilio-server.js';
import { BackgroundLoad } from './lib/background-load.js';
import { hostNow } from './lib/load-protocol.js';
import { freePort, waitUntil } from './lib/net.js';
import { assertSeedUsed, seedRegistry } from './lib/seed-registry.js';
import { sharedSecretRegistry } from './lib/shared-registry.js';
import { summarize, type LatencySummary } from './lib/stats.js';
import { DEVICE_LIMITS_OFF } from './lib/limits.js';

export interface StormOptions {
  alarms: number;
  seconds: number;
  log: (line: string) => void;
}

export interface StormResult {
  alarms: number;
  seconds: number;
  /** How long the PUBLISHes actually took to leave (the plan is `seconds`). */
  sent_over_s: number;
  acked: number;
  incidents_opened: number;
  /** PUBLISHes not acknowledged, plus acknowledged alarms that opened no incident. */
  lost: number;
  /** PUBLISH (client, just before the send) -> incident opened and committed (the gateway's incidentChanged event), ms on the host clock. */
  open_ms: LatencySummary;
  p99_open_ms: number;
  opened_within_1s: number;
  /** PUBLISH -> PUBACK. */
  puback_ms: LatencySummary;
  sms_sent: number;
  /** From the first PUBLISH until every page of every incident had reached the SMS simulator and the gateway's SMS queue was empty. */
  sms_drain_s: number;
  target: { lost: number; maxOpenMs: number; pass: boolean };
  setup: { connectMs: number; seedMs: number; smsPerIncident: number };
}

const SECRET = 'bench-shared-secret-0123456789';
const SIM_SID = `AC${'c'.repeat(32)}`;
const SIM_TOKEN = 'bench-storm-auth-token';
const OPEN_LIMIT_MS = 1000;
// Per incident: the worker's page and its link, and the one family member's alert.
const SMS_PER_INCIDENT = 3;

export async function runStormBenchmark(opts: StormOptions): Promise<StormResult> {
  const dir = mkdtempSync(join(tmpdir(), 'care-bench-storm-'));
  const cleanup: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  try {
    const reg = sharedSecretRegistry({ residents: opts.alarms, sensors: 0, secret: SECRET });
    const dataDir = join(dir, 'data');
    const seeded = await seedRegistry(dir, dataDir, reg.doc);
    const sim = new TwilioSimServer({ accountSid: SIM_SID, authToken: SIM_TOKEN });
    await sim.start({ port: 0 });
    cleanup.push(() => sim.stop());
    const httpPort = await freePort();
    const config = loadConfig({
      MQTT_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      HTTP_PORT: String(httpPort),
      HTTP_HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      REGISTRY_FILE: seeded.path,
      PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
      TZ: 'Asia/Shanghai',
      TWILIO_ACCOUNT_SID: SIM_SID,
      TWILIO_AUTH_TOKEN: SIM_TOKEN,
      TWILIO_FROM: '+15005550006',
      TWILIO_API_URL: sim.url,
      LOG_LEVEL: 'silent',
      ...DEVICE_LIMITS_OFF,
    });
    const gateway = Gateway.create({ config, log: silentLogger() });
    const started = await gateway.start();
    cleanup.push(() => gateway.stop());
    assertSeedUsed(started.registry, 'storm');

    const load = new BackgroundLoad({
      url: `mqtt://127.0.0.1:${started.mqttPort}`,
      devices: reg.buttons,
      concurrency: 64,
      openFiles: 20_000,
      replyTimeoutMs: 600_000,
    });
    cleanup.push(() => load.stop());
    const { ms: connectMs } = await load.start();
    opts.log(`storm: ${reg.buttons.length} buttons connected in ${connectMs} ms`);

    // When each resident's incident was opened (committed), on the same host clock as the client's send times.
    const openedAt = new Map<string, number>();
    const owner = {};
    gateway.bus.on(owner, 'incidentChanged', (incident, entry) => {
      if (entry.action === 'opened' && !openedAt.has(incident.residentId)) openedAt.set(incident.residentId, hostNow());
    });
    cleanup.push(() => gateway.bus.removeAll(owner));

    const stormStart = hostNow();
    const sent = await load.storm(opts.alarms, opts.seconds * 1000, 60_000);
    const expectedSms = opts.alarms * SMS_PER_INCIDENT;
    await waitUntil(() => openedAt.size >= opts.alarms || gateway.processor.backlog().queued === 0, 120_000, 'incidents to open', 20).catch(
      () => undefined,
    );
    await waitUntil(
      () => sim.messages().length >= expectedSms && gateway.dispatcher.health().queued === 0,
      600_000,
      'the SMS backlog to drain',
      50,
    ).catch((err: unknown) => opts.log(`storm: ${err instanceof Error ? err.message : String(err)}`));
    const drainS = (hostNow() - stormStart) / 1000;

    const open: number[] = [];
    const puback: number[] = [];
    let acked = 0;
    let lost = 0;
    for (let i = 0; i < sent.sentAt.length; i++) {
      const ack = sent.ackedAt[i];
      const at = openedAt.get(`r-${String(i).padStart(5, '0')}`);
      const sentAt = sent.sentAt[i] ?? 0;
      if (ack !== null && ack !== undefined) {
        acked++;
        puback.push(ack - sentAt);
      }
      if (ack === null || ack === undefined || at === undefined) lost++;
      if (at !== undefined) open.push(at - sentAt);
    }
    // The durable store is the judge of "became an incident", not only the event stream.
    const active = (await gateway.store.incidents.listActive()).filter((x) => x.type === 'sos').length;
    const openSummary = summarize(open);
    const sentOver = (Math.max(...sent.sentAt) - Math.min(...sent.sentAt)) / 1000;
    const within = open.filter((x) => x <= OPEN_LIMIT_MS).length;
    opts.log(
      `storm: ${acked}/${opts.alarms} acknowledged, ${openedAt.size} incidents opened (${active} active in the store), lost ${lost}; ` +
        `PUBLISH -> open p50 ${openSummary.p50.toFixed(1)} ms, p99 ${openSummary.p99.toFixed(1)} ms, max ${openSummary.max.toFixed(1)} ms; ` +
        `${sim.messages().length} SMS, drained ${drainS.toFixed(1)} s after the first PUBLISH`,
    );
    return {
      alarms: opts.alarms,
      seconds: opts.seconds,
      sent_over_s: sentOver,
      acked,
      incidents_opened: Math.min(openedAt.size, active),
      lost: Math.max(lost, opts.alarms - active),
      open_ms: openSummary,
      p99_open_ms: openSummary.p99,
      opened_within_1s: within,
      puback_ms: summarize(puback),
      sms_sent: sim.messages().length,
      sms_drain_s: drainS,
      target: { lost: 0, maxOpenMs: OPEN_LIMIT_MS, pass: lost === 0 && active === opts.alarms && openSummary.max <= OPEN_LIMIT_MS },
      setup: { connectMs, seedMs: seeded.ms, smsPerIncident: SMS_PER_INCIDENT },
    };
  } finally {
    for (const fn of cleanup.reverse()) {
      try {
        await fn();
      } catch (err) {
        opts.log(`storm: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}
