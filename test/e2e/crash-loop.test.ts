// The crash loop: 500 buttons press SOS 4 times each over 20 s while the gateway process is SIGKILLed three times and restarted on the same DATA_DIR: no PUBACKed alarm lost, no resident unpaged, no duplicate incident.
import { createHash } from 'node:crypto';
import { waitFor } from '../helpers/wait.js';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { describe, it } from 'vitest';
import { benchRegistryDoc } from '../../bench/lib/registry.js';
import { seedRegistry } from '../../bench/lib/seed-registry.js';
import { databaseFile } from '../../gateway/storage/sqlite/store.js';
import { e2eFixture, GatewayProcess, gatewayAddresses, gatewayEnv, sleep } from '../helpers/e2e-process.js';

const DEVICES = 500;
const PRESSES = 4;
const PRESS_EVERY_MS = 5000; // 4 presses each over 20 s: 100 SOS a second
const CRASHES = 3;
/** Presses mqtt.js reports as failed are sent again until this long after the first press. */
const RESEND_UNTIL_MS = 120_000;
const FIRST_CRASH_MS = 4000;
const MIN_UP_MS = 3000; // a restarted gateway runs at least this long before the next crash
const SECRET = 'crash-loop-shared-secret-0123';
const CONNECT_CONCURRENCY = 32;

/** `node --import tsx gateway/main.ts`: what `npm start` runs, without the dashboard build of its prestart step. */
const GATEWAY_COMMAND: [string, ...string[]] = ['node', '--import', 'tsx', 'gateway/main.ts'];

/** Connects the buttons a few at a time (each CONNECT costs the gateway one scrypt), in the order given. */
async function connectAll(buttons: readonly { id: string; secret: string }[], url: string): Promise<MqttClient[]> {
  const clients: MqttClient[] = new Array<MqttClient>(buttons.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < buttons.length; i = next++) {
      const b = buttons[i];
      if (!b) continue;
      const client = await mqtt.connectAsync(url, {
        clientId: b.id,
        username: b.id,
        password: b.secret,
        protocolVersion: 4,
        reconnectPeriod: 250,
        connectTimeout: 30_000,
      });
      // Refused or dropped connections are retried by mqtt.js itself; the test judges by PUBACKs and the database.
      client.on('error', () => undefined);
      clients[i] = client;
    }
  };
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, worker));
  return clients;
}

interface Press {
  device: number;
  seq: number;
  payload: string;
  acked: boolean;
  /** Sends again after mqtt.js reported the publish failed. */
  resends: number;
}

describe('crash loop: SIGKILL and restart under an alarm storm', () => {
  it('500 buttons x 4 SOS over 20 s, the gateway SIGKILLed 3 times: 0 PUBACKed alarms lost, 0 residents unpaged, 0 duplicate incidents', async ({
    expect,
    onTestFinished,
  }) => {
    const { children, sim, dir } = await e2eFixture('care-gw-e2e-crash-loop-', onTestFinished);
    let clients: MqttClient[] = [];
    // Registered after the fixture's, so it runs first: the buttons go before the gateway and the simulator.
    onTestFinished(() => {
      for (const c of clients) c.end(true);
    });
    const addresses = await gatewayAddresses();
    const dataDir = `${dir.path}/data`;
    // One shared secret hashed once (bench/lib/seed-registry.ts): 500 scrypt hashes at import would only slow the test.
    const reg = benchRegistryDoc({ residents: DEVICES, sensors: 0, secretOf: () => SECRET });
    const seeded = await seedRegistry(dir.path, dataDir, reg.doc);
    const env = gatewayEnv({ dataDir, addresses, twilioApiUrl: sim.url, registryFile: seeded.path });
    const start = async () => {
      const gateway = children.add(new GatewayProcess(env, GATEWAY_COMMAND).spawn());
      await gateway.waitForBanner(30_000);
      return gateway;
    };
    let gateway = await start();

    // Real buttons: each reconnects on its own and sends its unacknowledged QoS 1 presses again (mqtt.js keeps them).
    clients = await connectAll(reg.buttons, addresses.mqttUrl);
    const presses: Press[] = [];
    const pressed: Promise<void>[] = [];
    const t0 = Date.now();
    clients.forEach((client, device) => {
      const button = reg.buttons[device];
      if (!button) throw new Error(`no button ${device}`);
      for (let k = 0; k < PRESSES; k++) {
        const press: Press = { device, seq: k + 1, payload: JSON.stringify({ type: 'sos', seq: k + 1 }), acked: false, resends: 0 };
        presses.push(press);
        const at = k * PRESS_EVERY_MS + Math.floor((device * PRESS_EVERY_MS) / DEVICES);
        pressed.push(
          new Promise<void>((resolve) => {
            // mqtt.js reports a publish whose write met the socket of a gateway just killed as failed (never
            // PUBACKed); a real button sends it again until it gets its PUBACK, and so does this one.
            const send = (): void => {
              client.publish(`care/v1/${button.id}/event`, press.payload, { qos: 1 }, (err) => {
                // The PUBACK: from here on the gateway has promised the alarm is durable.
                if (!err) {
                  press.acked = true;
                  resolve();
                } else if (Date.now() < t0 + RESEND_UNTIL_MS) {
                  press.resends++;
                  setTimeout(send, 250);
                } else {
                  resolve();
                }
              });
            };
            setTimeout(send, at);
          }),
        );
      }
    });

    // The crashes: SIGKILL to the whole process group, then a restart on the same DATA_DIR, as a supervisor would.
    let crashAt = t0 + FIRST_CRASH_MS;
    for (let i = 0; i < CRASHES; i++) {
      await sleep(Math.max(0, crashAt - Date.now()));
      gateway.signalGroup('SIGKILL');
      expect((await gateway.waitForExit()).signal).toBe('SIGKILL');
      gateway = await start();
      crashAt = Math.max(Date.now() + MIN_UP_MS, t0 + FIRST_CRASH_MS + (i + 1) * PRESS_EVERY_MS);
    }

    // The last gateway stays up: every button's presses get their PUBACK in the end.
    await Promise.all(pressed);
    const db = new Database(databaseFile(dataDir), { readonly: true });
    onTestFinished(() => {
      db.close();
    });
    const eventRow = db.prepare<[string, number, string], { id: number; processed: number }>(
      'SELECT id, processed FROM events WHERE device_id = ? AND seq = ? AND payload_hash = ?',
    );
    const acked = presses.filter((p) => p.acked);
    expect(acked).toHaveLength(DEVICES * PRESSES);

    // 0 PUBACKed alarms lost: each is recorded once and becomes a signal of its resident's incident.
    await waitFor(
      'every event to be acted on',
      () => db.prepare<[], { n: number }>('SELECT count(*) AS n FROM events WHERE processed = 0').get()?.n === 0,
      { timeoutMs: 30_000 },
    );
    const lost = acked.filter((p) => {
      const b = reg.buttons[p.device];
      const row = b ? eventRow.get(b.id, p.seq, createHash('sha256').update(p.payload).digest('hex')) : undefined;
      return !row || row.processed !== 1;
    });
    expect(lost).toEqual([]);

    // 0 duplicate incidents: one per resident, holding all four presses. A press recorded just before a SIGKILL, whose
    // PUBACK the crash cut off, comes again after the restart; mqtt.js resends it without the DUP flag on a new
    // connection, which the gateway takes as a new signal (a button whose counter restarted must be heard), so it
    // joins the same open incident: at most one such extra signal per crash, never a second incident or page.
    const incidents = db
      .prepare<[], { resident: string; n: number; signals: number; state: string }>(
        'SELECT resident_id AS resident, count(*) AS n, sum(signal_count) AS signals, min(state) AS state FROM incidents GROUP BY resident_id',
      )
      .all();
    expect(incidents).toHaveLength(DEVICES);
    expect(incidents.filter((i) => i.n !== 1)).toEqual([]);
    const resendsOf = (resident: string): number =>
      presses.filter((p) => reg.buttons[p.device]?.residentId === resident).reduce((n, p) => n + p.resends, 0);
    expect(
      incidents.filter((i) => i.signals < PRESSES || i.signals > PRESSES + CRASHES + resendsOf(i.resident) || i.state !== 'open'),
    ).toEqual([]);

    // 0 residents unpaged: every resident's family and an on-duty worker had an SMS naming the resident.
    const familyOf = new Map(reg.doc.residents?.map((r) => [r.family?.[0]?.phone ?? '', r.name]) ?? []);
    const unpaged = () => {
      const messages = sim.messages();
      const familyReached = new Set(messages.map((m) => m.to).filter((to) => familyOf.has(to)));
      const workerPaged = new Set(
        messages.filter((m) => !familyOf.has(m.to) && m.body.includes('回1')).map((m) => /老人\d{5}/.exec(m.body)?.[0]),
      );
      return (reg.doc.residents ?? [])
        .filter((r) => !familyReached.has(r.family?.[0]?.phone ?? '') || !workerPaged.has(r.name))
        .map((r) => r.id);
    };
    await waitFor('every resident to be paged', () => unpaged().length === 0, { timeoutMs: 60_000 }).catch(() => undefined);
    expect(unpaged()).toEqual([]);
  }, 300_000);
});
