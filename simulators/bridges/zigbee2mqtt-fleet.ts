// Drives the zigbee2mqtt bridges of a registry for `npm run sim`: one publisher per bridge on the gateway's broker, availability, battery reports, motion and alarms.
import type { ValidatedRegistry } from '../../gateway/registry/schema.js';
import type { Random } from '../common/random.js';
import { Zigbee2mqttPublisher, type SimZigbeeDevice } from './zigbee2mqtt.js';

export interface Zigbee2mqttFleetOptions {
  url: string;
  doc: ValidatedRegistry;
  random: Random;
  /** Alarms (SOS presses, radar falls) per second across the bridged devices. */
  alarmsPerSecond: number;
  /** Battery report interval per device (ms; 0: none). */
  telemetryMs: number;
  /** Motion per motion sensor per hour. */
  motionPerHour: number;
  say: (line: string) => void;
}

interface Bridged {
  publisher: Zigbee2mqttPublisher;
  devices: SimZigbeeDevice[];
}

export class Zigbee2mqttFleet {
  private readonly bridges: Bridged[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: Zigbee2mqttFleetOptions) {}

  /** Bridges on the gateway's broker whose secret the registry file holds (the demo's does). */
  async start(): Promise<number> {
    const { doc } = this.opts;
    for (const b of doc.bridges) {
      if (b.kind !== 'zigbee2mqtt' || b.secret === undefined || b.url !== undefined) continue;
      const devices = doc.devices
        .filter((d) => d.bridge === b.id && d.externalId !== undefined)
        .map((d) => ({ name: d.externalId ?? d.id, model: d.model, kind: d.kind }));
      const publisher = new Zigbee2mqttPublisher({ url: this.opts.url, bridgeId: b.id, password: b.secret, baseTopic: b.baseTopic });
      await publisher.connect();
      for (const d of devices) await publisher.availability(d, 'online');
      this.bridges.push({ publisher, devices });
      this.opts.say(`zigbee2mqtt: bridge ${b.id} connected with ${devices.length} devices`);
    }
    const all = this.bridges.flatMap((b) => b.devices.map((d) => ({ b, d })));
    if (all.length === 0) return 0;
    const every = (ms: number, fn: () => Promise<void>): void => {
      if (ms <= 0 || !Number.isFinite(ms)) return;
      this.timers.push(
        setInterval(
          () => void fn().catch((err: unknown) => this.opts.say(`zigbee2mqtt: ${err instanceof Error ? err.message : String(err)}`)),
          ms,
        ),
      );
    };
    const alarmers = all.filter((x) => x.d.kind !== 'motion_sensor' && x.d.kind !== 'door_sensor' && x.d.kind !== 'presence_sensor');
    const movers = all.filter((x) => x.d.kind === 'motion_sensor');
    if (alarmers.length > 0)
      every(1000 / this.opts.alarmsPerSecond, async () => {
        const x = this.opts.random.pick(alarmers);
        await x.b.publisher.alarm(x.d);
      });
    if (movers.length > 0)
      every(3_600_000 / (this.opts.motionPerHour * movers.length), async () => {
        const x = this.opts.random.pick(movers);
        await x.b.publisher.motion(x.d);
      });
    every(this.opts.telemetryMs / all.length, async () => {
      const x = this.opts.random.pick(all);
      await x.b.publisher.battery(x.d, this.opts.random.between(60, 100));
    });
    return all.length;
  }

  counts(): { sent: number; acked: number; errors: number } {
    const out = { sent: 0, acked: 0, errors: 0 };
    for (const b of this.bridges) {
      out.sent += b.publisher.counts.sent;
      out.acked += b.publisher.counts.acked;
      out.errors += b.publisher.counts.errors;
    }
    return out;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.bridges.map((b) => b.publisher.close()));
  }
}
