// Baseline: a bare aedes broker (no auth hooks, no persistence beyond memory), PUBLISH to subscriber delivery with the same mqtt.js setup, idle and under the same load.
import type { AlarmBenchOptions } from './alarm-latency.js';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Aedes } from 'aedes';
import { BackgroundLoad } from './lib/background-load.js';
import { ButtonHost } from './lib/button-host.js';
import { closeAll, connectDevice, type DeviceCredentials } from './lib/clients.js';
import { runRounds, type ConditionRun } from './lib/rounds.js';

/** The same rounds, pacing and load as the alarm benchmark, so the two are measured alike. */
export type RawAedesOptions = AlarmBenchOptions;

export interface RawAedesResult {
  rounds: ConditionRun[];
}

const TOPIC = 'care/v1/btn-00000/event';

export async function runRawAedesBenchmark(opts: RawAedesOptions): Promise<RawAedesResult> {
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const broker = await Aedes.createBroker();
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    cleanup.push(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    });
    const address = server.address();
    const url = `mqtt://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    let telemetry = 0;
    broker.on('publish', (packet, client) => {
      if (client && packet.topic.endsWith('/telemetry')) telemetry++;
    });

    const subscriber = await connectDevice(url, { id: 'bench-subscriber', secret: 'unused-secret' });
    cleanup.push(() => closeAll([subscriber]));
    // The publisher lives in a child process, as the alarm benchmark's buttons do.
    const publisher = new ButtonHost({ url, devices: [{ id: 'btn-00000', secret: 'unused-secret' }], subscribeCommands: false });
    cleanup.push(() => publisher.stop());
    await publisher.start();
    await subscriber.subscribeAsync(TOPIC, { qos: 1 });
    const delivered = new Deliveries();
    subscriber.on('message', delivered.onMessage);

    const devices: DeviceCredentials[] = Array.from({ length: opts.loadDevices }, (_, i) => ({
      id: `pir-${String(i).padStart(5, '0')}`,
      secret: 'unused-secret',
    }));
    const load = new BackgroundLoad({ url, devices, concurrency: 64 });
    cleanup.push(() => load.stop());
    const { ms } = await load.start();
    opts.log(`raw aedes: ${devices.length} telemetry devices connected in ${ms} ms`);

    let seq = 0;
    const rounds = await runRounds({
      runs: opts.runs,
      pacing: opts.pacing,
      loadRate: opts.loadRate,
      settleMs: opts.settleMs,
      load,
      receivedTelemetry: () => telemetry,
      sample: async () => {
        seq++;
        const payload = JSON.stringify({ type: 'sos', seq, ts: new Date().toISOString() });
        const arrival = delivered.expect(seq, opts.pacing.timeoutMs);
        const [arrivedHr, { publishedAt }] = await Promise.all([arrival, publisher.press(0, TOPIC, payload)]);
        return { startedAt: publishedAt, latencyMs: arrivedHr - publishedAt };
      },
      log: opts.log,
      label: 'raw aedes',
    });
    return { rounds };
  } finally {
    for (const fn of cleanup.reverse()) {
      try {
        await fn();
      } catch (err) {
        opts.log(`raw aedes: cleanup step failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Arrival times (performance.now()) of the subscriber's messages, by the `seq` in their payload. */
class Deliveries {
  private readonly waiters = new Map<number, { resolve: (hr: number) => void; timer: NodeJS.Timeout }>();

  /** The subscriber's 'message' listener; the arrival time is taken before anything else. */
  readonly onMessage = (_topic: string, payload: Buffer): void => {
    const hr = performance.now();
    const seq = (JSON.parse(payload.toString('utf8')) as { seq?: unknown }).seq;
    const w = typeof seq === 'number' ? this.waiters.get(seq) : undefined;
    if (!w || typeof seq !== 'number') return;
    this.waiters.delete(seq);
    clearTimeout(w.timer);
    w.resolve(hr);
  };

  expect(seq: number, timeoutMs: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(seq);
        reject(new Error(`message ${seq} not delivered within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(seq, { resolve, timer });
    });
  }
}
