// ChirpStack for a scenario run: when the registry has ChirpStack bridges, Debian's mosquitto plays their broker (the registry copy is pointed at it) and a ChirpStack-shaped publisher presses their devices.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { MosquittoServer } from './mosquitto.js';
import { ChirpstackPublisher, ws101Bytes } from './chirpstack.js';

interface LoraDevice {
  bridge: string;
  devEui: string;
  model: string | null;
}

interface BridgeEntry {
  id?: unknown;
  kind?: unknown;
  username?: unknown;
  password?: unknown;
  applicationId?: unknown;
}

interface DeviceEntry {
  id?: unknown;
  bridge?: unknown;
  externalId?: unknown;
  model?: unknown;
}

export class ScenarioChirpstack {
  private constructor(
    private readonly mosquitto: MosquittoServer,
    private readonly publishers: Map<string, ChirpstackPublisher>,
    private readonly devices: Map<string, LoraDevice>,
  ) {}

  /** Starts mosquitto and rewrites the ChirpStack bridges of `registryFile` to it; null when the registry has none. */
  static async prepare(registryFile: string): Promise<ScenarioChirpstack | null> {
    const doc = parseDocument(await readFile(registryFile, 'utf8'));
    const raw: unknown = doc.toJS();
    const root = (typeof raw === 'object' && raw !== null ? raw : {}) as { bridges?: BridgeEntry[]; devices?: DeviceEntry[] };
    const bridges = (root.bridges ?? []).map((b, i) => ({ b, i })).filter(({ b }) => b.kind === 'chirpstack');
    if (bridges.length === 0) return null;
    const sim = { username: 'chirpstack-sim', password: randomBytes(12).toString('hex') };
    const text = (v: unknown): string => (typeof v === 'string' ? v : '');
    const users = [
      sim,
      ...bridges.map(({ b }) => ({ username: text(b.username), password: text(b.password) })).filter((u) => u.username !== ''),
    ];
    const mosquitto = new MosquittoServer({ users });
    await mosquitto.start();
    const publishers = new Map<string, ChirpstackPublisher>();
    try {
      for (const { b, i } of bridges) {
        doc.setIn(['bridges', i, 'url'], mosquitto.url);
        const publisher = new ChirpstackPublisher({ url: mosquitto.url, ...sim, applicationId: String(b.applicationId) });
        await publisher.connect();
        publishers.set(String(b.id), publisher);
      }
    } catch (err) {
      for (const p of publishers.values()) await p.close();
      await mosquitto.dispose();
      throw err;
    }
    await writeFile(registryFile, doc.toString({ lineWidth: 0 }));
    const devices = new Map<string, LoraDevice>();
    for (const d of root.devices ?? []) {
      if (typeof d.bridge === 'string' && publishers.has(d.bridge)) {
        devices.set(String(d.id), {
          bridge: d.bridge,
          devEui: String(d.externalId).toLowerCase(),
          model: typeof d.model === 'string' ? d.model : null,
        });
      }
    }
    return new ScenarioChirpstack(mosquitto, publishers, devices);
  }

  has(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  /** Waits until the gateway's bridges listen: each device's join shows it online in the API. */
  async ready(isOnline: (deviceId: string) => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const [id, d] of this.devices) {
      while (!(await isOnline(id))) {
        if (Date.now() > deadline) throw new Error(`ChirpStack bridge ${d.bridge}: the gateway did not hear ${id} within ${timeoutMs} ms`);
        await this.publisher(d).join({ devEui: d.devEui });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  /** An uplink carrying the event as the device's model would send it; resolves at the broker's PUBACK. */
  async send(deviceId: string, event: string): Promise<void> {
    const d = this.devices.get(deviceId);
    if (!d) throw new Error(`${deviceId} is not behind a ChirpStack bridge`);
    if (d.model === 'milesight_ws101_sos') {
      if (event !== 'sos') throw new Error(`${deviceId}: a WS101 can only press (sos), not "${event}"`);
      await this.publisher(d).uplink({ devEui: d.devEui }, { fPort: 85, bytes: ws101Bytes({ battery: 88, press: 1 }) });
      return;
    }
    await this.publisher(d).uplink({ devEui: d.devEui }, { fPort: 10, object: { event } });
  }

  async stop(): Promise<void> {
    for (const p of this.publishers.values()) await p.close();
    await this.mosquitto.dispose();
  }

  private publisher(d: LoraDevice): ChirpstackPublisher {
    const p = this.publishers.get(d.bridge);
    if (!p) throw new Error(`no publisher for bridge ${d.bridge}`);
    return p;
  }
}
