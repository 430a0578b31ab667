// The crash tests: `npm start` SIGKILLed right after a PUBACK, or with an escalation step pending, comes back on the same DATA_DIR and pages as if it had never stopped.
import { linkCodeOf } from '../helpers/page-link.js';
import { waitFor } from '../helpers/wait.js';
import mqtt from 'mqtt';
import { describe, it, type TestContext } from 'vitest';
import type { SimMessage, TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import {
  e2eFixture,
  GatewayProcess,
  gatewayAddresses,
  gatewayEnv,
  httpGet,
  listIncidents,
  registryVariant,
  sleep,
  type GatewayAddresses,
} from '../helpers/e2e-process.js';
import type { IncidentView } from '../../gateway/incidents/views.js';

const W1 = '+8613900000001'; // w-01 李明, nearest on duty
const W2 = '+8613900000002'; // w-02 赵强, second nearest
const FAMILY = ['+8613800000001', '+8613800000002'];
// Long enough that a restart (a cold `npm start` on a loaded machine takes several seconds) still finds step 1 not yet
// due, short enough to keep the escalation within the test's time.
const ACK_TIMEOUT_S = 20;
const isPage = (phone: string) => (m: SimMessage) => m.to === phone && m.body.includes('回1');

interface CrashRig {
  sim: TwilioSimServer;
  addresses: GatewayAddresses;
  /** Starts `npm start` on the rig's DATA_DIR, ports and registry, and waits for its banner. */
  startGateway(): Promise<GatewayProcess>;
  pages(phone: string): SimMessage[];
  to(phone: string): SimMessage[];
}

/** A Twilio-compatible server, a DATA_DIR and a registry with a 10 s ack timeout; all of it ends with the test, pass or fail. */
async function crashRig(onTestFinished: TestContext['onTestFinished']): Promise<CrashRig> {
  const { children, sim, dir } = await e2eFixture('care-gw-e2e-crash-', onTestFinished);
  const addresses = await gatewayAddresses();
  // Without the fixture's visit, whose reminder goes out at start on a Tuesday or Thursday: the tests count the SMS.
  const registryFile = registryVariant(dir.path, 'registry.yaml', [
    [['escalation', 'ackTimeoutSeconds'], ACK_TIMEOUT_S],
    [['visits'], []],
  ]);
  const env = gatewayEnv({ dataDir: `${dir.path}/data`, addresses, twilioApiUrl: sim.url, registryFile });
  return {
    sim,
    addresses,
    async startGateway() {
      const gateway = children.add(new GatewayProcess(env).spawn());
      await gateway.waitForBanner();
      return gateway;
    },
    pages: (phone) => sim.messages().filter(isPage(phone)),
    to: (phone) => sim.messages().filter((m) => m.to === phone),
  };
}

async function onlyIncident(rig: CrashRig): Promise<IncidentView> {
  const all = await listIncidents(rig.addresses.publicUrl);
  if (all.length !== 1 || !all[0]) throw new Error(`expected exactly one incident, got ${all.length}`);
  return all[0];
}

function connectButton(rig: CrashRig): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(rig.addresses.mqttUrl, {
    clientId: 'btn-001',
    username: 'btn-001',
    password: 's3cret-btn-001',
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
}

describe('crash recovery of npm start (SIGKILL, then a restart on the same DATA_DIR)', () => {
  it.concurrent(
    'an sos PUBACKed just before the crash is paged and escalated after the restart',
    async ({ expect, onTestFinished }) => {
      const rig = await crashRig(onTestFinished);
      // SMS cannot go out before the crash: whatever the first process managed to do, it could not page anyone.
      await rig.sim.setDown(true);
      const first = await rig.startGateway();

      const button = await connectButton(rig);
      const pubackError = await new Promise<Error | null>((resolve) => {
        button.publish('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 }, (err) => {
          // The PUBACK promises the event is durable: crash at once, before anything else can happen.
          first.signalGroup('SIGKILL');
          resolve(err ?? null);
        });
      });
      expect(pubackError).toBeNull();
      expect((await first.waitForExit()).signal).toBe('SIGKILL');
      button.end(true);
      expect(rig.sim.messages()).toEqual([]);

      await rig.sim.setDown(false);
      await rig.startGateway();
      const incident = await waitFor('the incident after the restart', () => onlyIncident(rig));
      expect(incident).toMatchObject({ resident: 'r-001', type: 'sos', state: 'open', signalCount: 1 });

      await rig.sim.waitForMessage(isPage(W1), 8000);
      for (const phone of FAMILY) await rig.sim.waitForMessage((m) => m.to === phone, 5000);
      await waitFor('the first page to be recorded', async () => (await onlyIncident(rig)).firstPagedAt !== null);
      const paged = await onlyIncident(rig);
      expect(paged.step).toBe(1);
      const dueAt = paged.nextStepAt ?? 0;
      expect(dueAt).toBe((paged.firstPagedAt ?? 0) + ACK_TIMEOUT_S * 1000);

      // Nobody answers: the second-nearest worker is paged when the ack timeout runs out, not before.
      const escalated = await rig.sim.waitForMessage(isPage(W2), Math.max(0, dueAt - Date.now()) + 5000);
      expect(escalated.receivedAt).toBeGreaterThanOrEqual(dueAt);
      expect(escalated.body).toContain('仍无人接');
      expect(rig.pages(W1)).toHaveLength(1);
      expect(rig.to(W1).filter((m) => linkCodeOf(m.body) !== null)).toHaveLength(1);
      for (const phone of FAMILY) expect(rig.to(phone)).toHaveLength(2); // the page and its link, once
      const after = await waitFor('step 2 to be recorded', async () => {
        const i = await onlyIncident(rig);
        return i.step === 2 ? i : null;
      });
      expect(after.state).toBe('open');
      expect(after.pages.filter((p) => p.role === 'worker').map((p) => `${p.to} ${p.step}`)).toEqual(
        expect.arrayContaining([`${W1} 1`, `${W2} 2`]),
      );
    },
    70_000,
  );

  it.concurrent(
    'an escalation step that fell due while the gateway was down runs at once on start, and exactly once',
    async ({ expect, onTestFinished }) => {
      const rig = await crashRig(onTestFinished);
      const first = await rig.startGateway();
      const button = await connectButton(rig);
      await button.publishAsync('care/v1/btn-001/event', JSON.stringify({ type: 'sos', seq: 1 }), { qos: 1 });
      await button.endAsync();

      await rig.sim.waitForMessage(isPage(W1), 5000);
      const paged = await waitFor('step 1 to be recorded', async () => {
        const i = await onlyIncident(rig);
        return i.nextStepAt !== null && i.firstPagedAt !== null ? i : null;
      });
      const dueAt = paged.nextStepAt ?? 0;
      expect(dueAt).toBe((paged.firstPagedAt ?? 0) + ACK_TIMEOUT_S * 1000);

      // Let every SMS of step 1 be recorded as handed over: one still 'sending' at the crash is sent again after the
      // restart (by design, a duplicate beats a lost page), which is not what this test is about.
      await waitFor('the SMS of step 1 to be handed to the provider', async () => {
        const log = await httpGet<{ status: string }[]>(rig.addresses.publicUrl, '/api/sms');
        // w-01's page and link, and each family member's.
        return log.body.length === 2 + 2 * FAMILY.length && log.body.every((m) => m.status !== 'queued' && m.status !== 'sending');
      });
      // Crash with step 2 armed, and stay down until it is overdue.
      first.signalGroup('SIGKILL');
      expect((await first.waitForExit()).signal).toBe('SIGKILL');
      expect(Date.now()).toBeLessThan(dueAt);
      await sleep(Math.max(0, dueAt - Date.now()) + 500);
      expect(rig.to(W2)).toEqual([]);

      const second = await rig.startGateway();
      const escalated = await rig.sim.waitForMessage(isPage(W2), 5000);
      expect(escalated.receivedAt).toBeGreaterThanOrEqual(second.startedAt);

      // Exactly once: no second run of the step, and step 1 is not paged again.
      await sleep(1500);
      expect(rig.pages(W2)).toHaveLength(1);
      expect(rig.to(W2)).toHaveLength(2); // the page and its link
      expect(rig.to(W1)).toHaveLength(2);
      for (const phone of FAMILY) expect(rig.to(phone)).toHaveLength(2);

      const res = await httpGet<IncidentView>(rig.addresses.publicUrl, `/api/incidents/${paged.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ state: 'open', step: 2 });
      const paging = (res.body.timeline ?? []).filter((e) => e.action === 'paged');
      expect(paging.map((e) => e.detail?.step)).toEqual([1, 2]);
      // Overdue on start means now: step 2 was taken while the gateway came up, before it said it was ready (its
      // timers start before its inputs and HTTP), not a timeout after the restart.
      expect(paging[1]?.at).toBeGreaterThanOrEqual(second.startedAt);
      expect(paging[1]?.at).toBeLessThanOrEqual(second.readyAt);
    },
    70_000,
  );
});
