// The background-load process: holds the telemetry devices' connections and publishes at the rate the benchmark asks for.
import type { MqttClient } from 'mqtt';
import { closeAll, connectMany } from './clients.js';
import {
  everydayEvent,
  hostNow,
  telemetryPayload,
  type LoadReply,
  type LoadRequest,
  type Qos1Result,
  type StormSendResult,
} from './load-protocol.js';
import { isNumberedMessage } from './child-rpc.js';

// Sends are topped up to the target count on every tick, so a late timer does not lower the achieved rate.
const TICK_MS = 5;
// After a stall, catch up by at most this many messages per tick rather than flood the broker in one burst.
const MAX_BURST = 200;

class LoadDevices {
  private clients: MqttClient[] = [];
  private topics: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sent = 0;
  private publishErrors = 0;
  private next = 0;
  // Per device: the last event seq sent, so every event of a run is new to the gateway's dedupe.
  private seqs: number[] = [];

  constructor(private readonly reply: (msg: LoadReply) => void) {}

  async handle(req: LoadRequest): Promise<void> {
    switch (req.type) {
      case 'connect': {
        const started = performance.now();
        this.clients = await connectMany(req.url, req.devices, req.concurrency);
        this.topics = req.devices.map((d) => `care/v1/${d.id}/telemetry`);
        this.seqs = req.devices.map(() => 0);
        this.reply({ id: req.id, type: 'connected', count: this.clients.length, ms: Math.round(performance.now() - started) });
        return;
      }
      case 'rate':
        this.setRate(req.perSecond);
        this.reply({ id: req.id, type: 'ok' });
        return;
      case 'stats': {
        const cpu = process.cpuUsage();
        this.reply({ id: req.id, type: 'stats', sent: this.sent, publishErrors: this.publishErrors, cpuMicros: cpu.user + cpu.system });
        return;
      }
      case 'qos1':
        this.reply({ id: req.id, type: 'qos1', result: await this.qos1(req.durationMs, req.inFlightPerDevice) });
        return;
      case 'storm':
        this.reply({ id: req.id, type: 'storm', result: await this.storm(req.count, req.overMs, req.settleMs) });
        return;
      case 'close':
        this.setRate(0);
        await closeAll(this.clients);
        this.clients = [];
        this.reply({ id: req.id, type: 'ok' });
        return;
    }
  }

  private setRate(perSecond: number): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (perSecond <= 0 || this.clients.length === 0) return;
    const started = performance.now();
    let due = 0;
    this.timer = setInterval(() => {
      const target = Math.floor(((performance.now() - started) / 1000) * perSecond);
      const n = Math.min(MAX_BURST, target - due);
      for (let i = 0; i < n; i++) this.publishOne();
      due = Math.max(due + n, target - MAX_BURST);
    }, TICK_MS);
  }

  /**
   * Every device keeps `inFlight` QoS 1 events outstanding (each lane sends its next one when the PUBACK of its
   * last arrived) for `durationMs`; counts the PUBACKs that arrive inside the window, then lets the rest finish.
   */
  private async qos1(durationMs: number, inFlight: number): Promise<Qos1Result> {
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const end = started + durationMs;
    let acked = 0;
    let sent = 0;
    let errors = 0;
    const lane = async (i: number): Promise<void> => {
      const client = this.clients[i];
      if (!client) return;
      const topic = `care/v1/${client.options.clientId ?? ''}/event`;
      while (performance.now() < end) {
        const seq = (this.seqs[i] ?? 0) + 1;
        this.seqs[i] = seq;
        sent++;
        try {
          await client.publishAsync(topic, everydayEvent(seq), { qos: 1 });
          if (performance.now() <= end) acked++;
        } catch {
          errors++;
        }
      }
    };
    const lanes: Promise<void>[] = [];
    for (let k = 0; k < inFlight; k++) for (let i = 0; i < this.clients.length; i++) lanes.push(lane(i));
    await Promise.all(lanes);
    const cpu = process.cpuUsage(cpu0);
    return { acked, sent, errors, seconds: durationMs / 1000, cpuMicros: cpu.user + cpu.system };
  }

  /** Device i sends one `sos` at i * overMs / count (evenly spread); waits up to settleMs after the last for every PUBACK. */
  private async storm(count: number, overMs: number, settleMs: number): Promise<StormSendResult> {
    const n = Math.min(count, this.clients.length);
    const sentAt = new Array<number>(n).fill(0);
    const ackedAt = new Array<number | null>(n).fill(null);
    let errors = 0;
    const acks: Promise<void>[] = [];
    const started = performance.now();
    let next = 0;
    await new Promise<void>((resolve) => {
      // A 1 ms tick sends every PUBLISH that is due, so a late timer catches up instead of shifting the schedule.
      const timer = setInterval(() => {
        const due = Math.min(n, Math.floor(((performance.now() - started) / overMs) * n) + 1);
        for (; next < due; next++) {
          const i = next;
          const client = this.clients[i];
          if (!client) continue;
          const seq = (this.seqs[i] ?? 0) + 1;
          this.seqs[i] = seq;
          const payload = JSON.stringify({ type: 'sos', seq, ts: new Date().toISOString() });
          sentAt[i] = hostNow();
          acks.push(
            client.publishAsync(`care/v1/${client.options.clientId ?? ''}/event`, payload, { qos: 1 }).then(
              () => {
                ackedAt[i] = hostNow();
              },
              () => {
                errors++;
              },
            ),
          );
        }
        if (next >= n) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(acks), new Promise((r) => (timer = setTimeout(r, settleMs)))]);
    clearTimeout(timer);
    return { sentAt, ackedAt, errors };
  }

  private publishOne(): void {
    const i = this.next;
    this.next = (this.next + 1) % this.clients.length;
    const client = this.clients[i];
    const topic = this.topics[i];
    if (!client || !topic) return;
    this.sent++;
    client.publish(topic, telemetryPayload(this.sent), { qos: 0 }, (err) => {
      if (err) this.publishErrors++;
    });
  }
}

const send = (msg: LoadReply): void => {
  process.send?.(msg);
};
const devices = new LoadDevices(send);
process.on('message', (msg: unknown) => {
  if (!isNumberedMessage<LoadRequest>(msg)) return;
  devices
    .handle(msg)
    .catch((err: unknown) => send({ id: msg.id, type: 'error', message: err instanceof Error ? err.message : String(err) }));
});
// The benchmark closed the channel (done, or it died): nothing is left to publish for.
process.on('disconnect', () => process.exit(0));
