// End to end through `npm start`: a button pressed with Debian's mosquitto_pub pages by SMS, a reply "1" acknowledges, the device hears it; bad configuration stops start-up with one line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { TwilioSimServer, type SimMessage } from '../../simulators/sms/twilio-server.js';
import {
  ChildTracker,
  E2E_API_TOKEN,
  E2E_AUTH_TOKEN,
  E2E_FROM,
  E2E_SID,
  GatewayProcess,
  gatewayAddresses,
  gatewayEnv,
  httpGet,
  listIncidents,
  mosquittoPublishEvent,
  mosquittoSubscribeCommand,
  ownStderrLines,
  registryVariant,
  type GatewayAddresses,
} from '../helpers/e2e-process.js';
import { tempDir } from '../helpers/tmp.js';

const WORKER = '+8613900000001'; // w-01 李明, the on-duty worker nearest to r-001
const FAMILY = ['+8613800000001', '+8613800000002'];
const BUTTON = { deviceId: 'btn-001', secret: 's3cret-btn-001' };
const SMS_TIMEOUT_MS = 5000;

describe('npm start, driven from outside', () => {
  const children = new ChildTracker();
  const sim = new TwilioSimServer({ accountSid: E2E_SID, authToken: E2E_AUTH_TOKEN, callbackDelayMs: 5 });
  const dir = tempDir('care-gw-e2e-');
  let addresses: GatewayAddresses;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    await sim.start();
    addresses = await gatewayAddresses();
    // Without the fixture's visit: on a Tuesday or Thursday its reminder would go out at start, and these tests count
    // every SMS the alarm sends (the visits have tests of their own).
    const registryFile = registryVariant(dir.path, 'registry.yaml', [[['visits'], []]]);
    gateway = children.add(new GatewayProcess(gatewayEnv({ dataDir: dir.path, addresses, twilioApiUrl: sim.url, registryFile })).spawn());
    await gateway.waitForBanner();
  });

  afterAll(async () => {
    await children.killAll();
    await sim.stop();
    dir.remove();
  });

  it('prints a banner with the addresses it listens on, and is not in outbox mode', () => {
    expect(gateway.stdout).toContain(`mqtt://127.0.0.1:${addresses.mqttPort}`);
    expect(gateway.stdout).toContain(`${addresses.publicUrl}/api/incidents`);
    expect(gateway.stdout).toContain('2 residents, 3 devices, 4 workers');
    expect(gateway.stdout).not.toContain('OUTBOX MODE');
  });

  it('answers /healthz openly with JSON naming each part', async () => {
    const res = await httpGet<{ status: string; alarmsOk: boolean; components: Record<string, { status: string; provider?: string }> }>(
      addresses.publicUrl,
      '/healthz',
      null,
    );
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/json/);
    expect(res.body.alarmsOk).toBe(true);
    expect(res.body.components.broker?.status).toBe('up');
    expect(res.body.components.database?.status).toBe('up');
    expect(res.body.components.sms).toMatchObject({ status: 'up', provider: 'twilio' });
  });

  it('refuses /api/incidents without the bearer token, or with a wrong one, and shows no personal data', async () => {
    for (const token of [null, 'not-the-api-token-at-all']) {
      const res = await httpGet(addresses.publicUrl, '/api/incidents', token);
      expect(res.status).toBe(401);
      expect(res.text).not.toContain('张桂兰');
      expect(res.text).not.toContain('+86');
    }
    expect((await httpGet(addresses.publicUrl, '/api/incidents', E2E_API_TOKEN)).status).toBe(200);
  });

  it('pages worker and family for a mosquitto_pub press; a reply "1" acknowledges, tells the family and the device', async () => {
    const login = { host: '127.0.0.1', port: addresses.mqttPort, ...BUTTON };
    const pub = await mosquittoPublishEvent(login, '{"type":"sos","seq":1}').done();
    expect(pub.stderr).toBe('');
    expect(pub.code).toBe(0);

    const page = await sim.waitForMessage((m) => m.to === WORKER && m.body.includes('回1'), SMS_TIMEOUT_MS);
    const link = await sim.waitForMessage(
      (m) => m.to === WORKER && m.body.startsWith(`详情及导航 ${addresses.publicUrl}/i 查看码`),
      SMS_TIMEOUT_MS,
    );
    for (const phone of FAMILY) await sim.waitForMessage((m) => m.to === phone, SMS_TIMEOUT_MS);
    // One UCS-2 segment: the page reads whole on any phone; the link comes as its own SMS after it.
    expect(page.body.length).toBeLessThanOrEqual(70);
    expect(page.numSegments).toBe(1);
    expect(page.body).toContain('张桂兰');
    expect(page.from).toBe(E2E_FROM);
    const toWorker = sim.messages().filter((m) => m.to === WORKER);
    expect(toWorker.map((m) => m.sid)).toEqual([page.sid, link.sid]);
    // Nobody else is paged: the second-nearest worker waits for the ack timeout.
    expect(new Set(sim.messages().map((m) => m.to))).toEqual(new Set([WORKER, ...FAMILY]));

    const [incident, ...others] = await listIncidents(addresses.publicUrl);
    expect(others).toEqual([]);
    expect(incident).toMatchObject({ resident: 'r-001', type: 'sos', state: 'open' });
    expect(incident?.pages.map((p) => `${p.role} ${p.to}`).sort()).toEqual([
      `family ${FAMILY[0]}`,
      `family ${FAMILY[1]}`,
      `worker ${WORKER}`,
    ]);

    // Subscribed (SUBACK seen) before the ack, so the command cannot slip past it. The session start is answered with
    // the open incident's state from the database first (re-sent, `resync`), then the ack's command comes live.
    const sub = children.add(mosquittoSubscribeCommand(login, 15, 2));
    await waitFor(
      () => `mosquitto_sub's SUBACK (stdout: ${sub.stdout} stderr: ${sub.stderr})`,
      () => sub.stdout.includes('received SUBACK'),
    );

    await waitFor(
      () => `the re-sent state (stdout: ${sub.stdout})`,
      () => sub.stdout.includes('"resync":true'),
    );

    const reply = await sim.reply(WORKER, '1', { webhookUrl: `${addresses.publicUrl}/webhooks/twilio/sms` });
    expect(reply.status).toBe(200);

    const acked = await waitFor(
      'the incident to be acknowledged',
      async () => (await listIncidents(addresses.publicUrl)).find((i) => i.id === incident?.id && i.state === 'acknowledged'),
      { timeoutMs: SMS_TIMEOUT_MS },
    );
    expect(acked.acknowledgedBy).toMatchObject({ name: '李明', role: 'worker' });
    const coming: SimMessage[] = [];
    for (const phone of FAMILY)
      coming.push(await sim.waitForMessage((m) => m.to === phone && m.body.startsWith('李明已接单'), SMS_TIMEOUT_MS));
    expect(coming.every((m) => m.body.includes('张桂兰'))).toBe(true);
    await sim.waitForMessage((m) => m.to === WORKER && m.body.includes('已由您接单'), SMS_TIMEOUT_MS);

    const received = await sub.done();
    expect(received.code).toBe(0);
    const jsonLines = received.stdout.split('\n').filter((l) => l.startsWith('{'));
    expect(jsonLines).toHaveLength(2);
    const [resent, command] = jsonLines.map((l): unknown => JSON.parse(l));
    expect(resent).toEqual({ type: 'alarm_received', incident: incident?.id, state: 'open', resync: true });
    expect(command).toMatchObject({ type: 'responder_assigned', incident: incident?.id });
  });
});

describe('npm start with a bad configuration', () => {
  const children = new ChildTracker();
  const dir = tempDir('care-gw-e2e-bad-');

  // Not afterEach: the tests run concurrently, and one test's cleanup must not end another's process.
  afterAll(async () => {
    await children.killAll();
    dir.remove();
  });

  /** Runs `npm start` with one thing wrong; returns its exit and its own stderr lines. */
  async function startWith(over: Record<string, string>, name: string): Promise<{ code: number | null; lines: string[]; stdout: string }> {
    const addresses = await gatewayAddresses();
    const env = { ...gatewayEnv({ dataDir: `${dir.path}/${name}`, addresses, twilioApiUrl: 'http://127.0.0.1:9' }), ...over };
    const child = children.add(new GatewayProcess(env).spawn());
    const exit = await child.waitForExit();
    return { code: exit.code, lines: ownStderrLines(child.stderr), stdout: child.stdout };
  }

  it.concurrent('MQTT_PORT=abc: exits non-zero with one stderr line naming MQTT_PORT', async ({ expect }) => {
    const r = await startWith({ MQTT_PORT: 'abc' }, 'port');
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/\bMQTT_PORT\b/);
    expect(r.stdout).not.toContain('care gateway is running');
  });

  it.concurrent(
    'MQTT_TLS_CERT_FILE naming a missing file: exits non-zero with one stderr line naming it, nothing listens',
    async ({ expect }) => {
      const missing = `${dir.path}/no-such-server.crt`;
      const r = await startWith({ MQTT_TLS_CERT_FILE: missing, MQTT_TLS_KEY_FILE: `${dir.path}/no-such-server.key` }, 'tls');
      expect(r.code).toBe(2);
      expect(r.lines).toEqual([`configuration error: MQTT_TLS_CERT_FILE: cannot read ${missing} (ENOENT)`]);
      expect(r.stdout).not.toContain('care gateway is running');
    },
  );

  it.concurrent('TZ=Mars/Base: exits non-zero with one stderr line naming TZ', async ({ expect }) => {
    const r = await startWith({ TZ: 'Mars/Base' }, 'tz');
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/\bTZ\b/);
    expect(r.lines[0]).toContain('Mars/Base');
  });

  it.concurrent('a registry with residents[0].location.lat: "x": exits non-zero naming the field', async ({ expect }) => {
    const registry = registryVariant(dir.path, 'broken.yaml', [[['residents', 0, 'location', 'lat'], 'x']]);
    const r = await startWith({ REGISTRY_FILE: registry }, 'registry');
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain('residents[0].location.lat');
    expect(r.stdout).not.toContain('care gateway is running');
  });
});
