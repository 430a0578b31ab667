// The LoRaWAN devices of a registry's ChirpStack bridges, played as ChirpStack would publish them: joins, periodic reports with a draining battery, device status, and SOS presses at a rate.
import type { ValidatedRegistry } from '../../gateway/registry/schema.js';
import { ChirpstackPublisher, ws101Bytes, type SimDevice } from './chirpstack.js';
import { MosquittoServer } from './mosquitto.js';

export interface ChirpstackFleetOptions {
  doc: ValidatedRegistry;
  /** Use this broker instead of each bridge's own url. */
  url?: string;
  sosPerSecond: number;
  reportMs: number;
  statusMs: number;
  /** Start Debian's mosquitto on the first bridge's port with its credentials (a demo without a ChirpStack server). */
  startMosquitto: boolean;
  say: (line: string) => void;
}

interface Lora extends SimDevice {
  id: string;
  model: string | undefined;
  battery: number;
  publisher: ChirpstackPublisher;
  nextReport: number;
  nextStatus: number;
}

const TICK_MS = 200;

export class ChirpstackFleet {
  private broker: MosquittoServer | null = null;
  private readonly publishers: ChirpstackPublisher[] = [];
  private readonly devices: Lora[] = [];
  private timer: NodeJS.Timeout | null = null;
  private last = Date.now();
  private readonly counters = { sent: 0, sos: 0, errors: 0 };

  constructor(private readonly opts: ChirpstackFleetOptions) {}

  /** Connects to each ChirpStack bridge's broker and joins its devices; nothing to do without such a bridge. */
  async start(): Promise<void> {
    const bridges = (this.opts.doc.bridges ?? []).flatMap((b) => (b.kind === 'chirpstack' ? [b] : []));
    for (const b of bridges) {
      const url = this.opts.url ?? b.url;
      if (this.opts.startMosquitto && !this.broker) {
        this.broker = new MosquittoServer({
          users: [{ username: b.username ?? 'chirpstack', password: b.password ?? 'chirpstack' }],
          port: Number(new URL(url).port),
        });
        await this.broker.start();
        this.opts.say(`chirpstack: mosquitto started on ${this.broker.url} as ChirpStack's broker`);
      }
      const publisher = new ChirpstackPublisher({
        url,
        ...(b.username ? { username: b.username } : {}),
        ...(b.password ? { password: b.password } : {}),
        applicationId: b.applicationId,
      });
      await publisher.connect();
      this.publishers.push(publisher);
      const now = Date.now();
      for (const d of this.opts.doc.devices.filter((x) => x.bridge === b.id && x.externalId)) {
        const lora: Lora = {
          id: d.id,
          devEui: (d.externalId ?? '').toLowerCase(),
          name: d.id,
          model: d.model,
          battery: 90 + Math.random() * 10,
          publisher,
          nextReport: now + Math.random() * this.opts.reportMs,
          nextStatus: now + Math.random() * this.opts.statusMs,
        };
        await publisher.join(lora);
        this.counters.sent++;
        this.devices.push(lora);
      }
      this.opts.say(
        `chirpstack: bridge ${b.id}: ${this.devices.filter((d) => d.publisher === publisher).length} LoRaWAN devices joined on ${url}`,
      );
    }
    if (this.devices.length === 0) return;
    this.last = Date.now();
    this.timer = setInterval(() => void this.tick(), TICK_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const p of this.publishers) await p.close();
    await this.broker?.dispose();
  }

  counts(): { sent: number; sos: number; errors: number } {
    return { ...this.counters };
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    const elapsed = now - this.last;
    this.last = now;
    try {
      for (const d of this.devices) {
        d.battery = Math.max(0, d.battery - (elapsed / 3_600_000) * 0.5);
        if (now >= d.nextReport) {
          d.nextReport = now + this.opts.reportMs;
          await this.uplink(d, false);
        }
        if (now >= d.nextStatus) {
          d.nextStatus = now + this.opts.statusMs;
          await d.publisher.status(d, { batteryLevel: Math.round(d.battery) });
          this.counters.sent++;
        }
      }
      const pick = this.devices[Math.floor(Math.random() * this.devices.length)];
      if (pick && Math.random() < this.opts.sosPerSecond * (elapsed / 1000)) {
        await this.uplink(pick, true);
        this.counters.sos++;
        this.opts.say(`chirpstack: SOS from ${pick.id} (${pick.devEui})`);
      }
    } catch (err) {
      this.counters.errors++;
      this.opts.say(`chirpstack: publish failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** What the device's model sends: WS101 bytes on fPort 85, or a codec object. */
  private async uplink(d: Lora, press: boolean): Promise<void> {
    const battery = Math.round(d.battery);
    if (d.model === 'milesight_ws101_sos')
      await d.publisher.uplink(d, { fPort: 85, bytes: ws101Bytes({ battery, ...(press ? { press: 1 as const } : {}) }) });
    else await d.publisher.uplink(d, { fPort: 10, object: press ? { event: 'sos', battery } : { battery } });
    this.counters.sent++;
  }
}
