// The background-load process: holds the telemetry devices' connections and publishes at the rate the benchmark asks for.
import type { MqttClient } from 'mqtt';
import { closeAll, connectMany } from './clients.js';
import { isLoadRequest, telemetryPayload, type LoadReply, type LoadRequest } from './load-protocol.js';

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

  constructor(private readonly reply: (msg: LoadReply) => void) {}

  async handle(req: LoadRequest): Promise<void> {
    switch (req.type) {
      case 'connect': {
        const started = performance.now();
        this.clients = await connectMany(req.url, req.devices, req.concurrency);
        this.topics = req.devices.map((d) => `care/v1/${d.id}/telemetry`);
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
  if (!isLoadRequest(msg)) return;
  devices.handle(msg).catch(
    (err: unknown) => send({ id: msg.id, type: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
});
// The benchmark closed the channel (done, or it died): nothing is left to publish for.
process.on('disconnect', () => process.exit(0));
