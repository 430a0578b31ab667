// `npm run sim:chirpstack`: plays ChirpStack for a registry's LoRaWAN devices: joins, periodic reports with a draining battery, device status, and SOS presses, on each ChirpStack bridge's broker.
import { parseArgs } from 'node:util';
import { parseDuration, parseRate, sleep } from '../common/duration.js';
import { SimRegistry } from '../common/registry.js';
import { ChirpstackPublisher, ws101Bytes, type SimDevice } from './chirpstack.js';
import { MosquittoServer } from './mosquitto.js';

const HELP = `Usage: npm run sim:chirpstack -- [registry] [options]

Publishes ChirpStack v4 events (JSON integration format) for the registry's devices behind ChirpStack bridges, on
each bridge's broker with the bridge's credentials, as a ChirpStack server would: a join per device at the start,
periodic reports with a slowly draining battery, a DevStatusAns now and then, and SOS presses at the given rate.

  registry            JSON or YAML registry (default: $DATA_DIR/demo-registry.yaml)
  --url URL           use this broker instead of the bridges' own url
  --report D          periodic report per device (default 5m)
  --status D          device status per device (default 1h)
  --sos R             SOS presses across the LoRaWAN devices, e.g. 2/min (default 0)
  --duration D        stop after D (default: until Ctrl-C)
  --start-mosquitto   start Debian's mosquitto on the first bridge's port with its credentials (for a demo without ChirpStack)
  -h, --help          this text
`;

interface Lora extends SimDevice {
  id: string;
  model: string | undefined;
  battery: number;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      report: { type: 'string', default: '5m' },
      status: { type: 'string', default: '1h' },
      sos: { type: 'string', default: '0' },
      duration: { type: 'string' },
      'start-mosquitto': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const registry = await SimRegistry.load(positionals[0] ?? `${process.env.DATA_DIR ?? './data'}/demo-registry.yaml`);
  const bridges = (registry.doc.bridges ?? []).flatMap((b) => (b.kind === 'chirpstack' ? [b] : []));
  if (bridges.length === 0) throw new Error(`${registry.path}: no ChirpStack bridge in the registry`);
  const reportMs = parseDuration(values.report);
  const statusMs = parseDuration(values.status);
  const sosPerMs = parseRate(values.sos) / 1000;
  const stopAt = values.duration ? Date.now() + parseDuration(values.duration) : Number.POSITIVE_INFINITY;

  let broker: MosquittoServer | null = null;
  const publishers: { publisher: ChirpstackPublisher; devices: Lora[] }[] = [];
  try {
    for (const b of bridges) {
      const url = values.url ?? b.url;
      if (values['start-mosquitto'] && !broker) {
        broker = new MosquittoServer({ users: [{ username: b.username ?? 'chirpstack', password: b.password ?? 'chirpstack' }], port: Number(new URL(url).port) });
        await broker.start();
        console.log(`mosquitto started on ${broker.url} as ChirpStack's broker`);
      }
      const publisher = new ChirpstackPublisher({ url, ...(b.username ? { username: b.username } : {}), ...(b.password ? { password: b.password } : {}), applicationId: b.applicationId });
      await publisher.connect();
      const devices = registry.doc.devices
        .filter((d) => d.bridge === b.id && d.externalId)
        .map((d): Lora => ({ id: d.id, devEui: (d.externalId ?? '').toLowerCase(), name: d.id, model: d.model, battery: 90 + Math.random() * 10 }));
      for (const d of devices) await publisher.join(d);
      console.log(`bridge ${b.id}: ${devices.length} LoRaWAN devices joined on ${url}`);
      publishers.push({ publisher, devices });
    }
    const all = publishers.flatMap((p) => p.devices.map((d) => ({ d, p: p.publisher })));
    const nextReport = new Map(all.map(({ d }) => [d.id, Date.now() + Math.random() * reportMs]));
    const nextStatus = new Map(all.map(({ d }) => [d.id, Date.now() + Math.random() * statusMs]));
    let sent = 0;
    let last = Date.now();
    while (Date.now() < stopAt) {
      await sleep(200);
      const now = Date.now();
      for (const { d, p } of all) {
        d.battery = Math.max(0, d.battery - ((now - last) / 3_600_000) * 0.5);
        if (now >= (nextReport.get(d.id) ?? 0)) {
          nextReport.set(d.id, now + reportMs);
          await uplink(p, d, false);
          sent++;
        }
        if (now >= (nextStatus.get(d.id) ?? 0)) {
          nextStatus.set(d.id, now + statusMs);
          await p.status(d, { batteryLevel: Math.round(d.battery) });
          sent++;
        }
      }
      if (all.length > 0 && Math.random() < sosPerMs * (now - last)) {
        const pick = all[Math.floor(Math.random() * all.length)];
        if (pick) {
          await uplink(pick.p, pick.d, true);
          console.log(`SOS from ${pick.d.id} (${pick.d.devEui})`);
          sent++;
        }
      }
      last = now;
    }
    console.log(`${sent} ChirpStack events published`);
  } finally {
    for (const { publisher } of publishers) await publisher.close();
    await broker?.dispose();
  }
}

/** What the device's model sends: WS101 bytes on fPort 85, or a codec object. */
async function uplink(p: ChirpstackPublisher, d: Lora, press: boolean): Promise<void> {
  const battery = Math.round(d.battery);
  if (d.model === 'milesight_ws101_sos') await p.uplink(d, { fPort: 85, bytes: ws101Bytes({ battery, ...(press ? { press: 1 as const } : {}) }) });
  else await p.uplink(d, { fPort: 10, object: press ? { event: 'sos', battery } : { battery } });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
