// The whole gateway's shutdown: the inputs stop first and the database last, and a part that fails to stop cannot keep the database open.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Gateway } from '../../gateway/app.js';
import { loadConfig } from '../../gateway/config/load.js';
import { createLogger, silentLogger } from '../../gateway/core/logger.js';
import { StopFailures } from '../../gateway/wiring/lifecycle.js';
import { TEST_REGISTRY } from '../helpers/gateway.js';
import { tempDir } from '../helpers/tmp.js';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function gatewayIn(dataDir: string, lines?: string[]): Gateway {
  const config = loadConfig({
    MQTT_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    REGISTRY_FILE: TEST_REGISTRY,
    LOG_LEVEL: 'warn',
  });
  if (!lines) return Gateway.create({ config, log: silentLogger() });
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return Gateway.create({ config, log: createLogger({ level: 'warn', destination }) });
}

describe('gateway shutdown', () => {
  it('closes the database when a part fails to stop, logs that part by name, and still reports the failure', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const lines: string[] = [];
    const gateway = gatewayIn(dir.path, lines);
    await gateway.start();
    vi.spyOn(gateway.supervision, 'stop').mockRejectedValue(new Error('digest job stuck'));
    const ingestStop = vi.spyOn(gateway.ingest, 'stop');
    const dispatcherStop = vi.spyOn(gateway.dispatcher, 'stop');

    const failure = await gateway.stop().then(
      () => null,
      (err: unknown) => err,
    );

    // The parts after it in the shutdown order still stopped, and the database is closed.
    expect(ingestStop).toHaveBeenCalledOnce();
    expect(dispatcherStop).toHaveBeenCalledOnce();
    expect(await gateway.store.ping()).toBe(false);
    if (!(failure instanceof StopFailures)) throw new Error(`expected StopFailures, got ${String(failure)}`);
    expect(failure.failed).toEqual(['supervision']);
    const errors = lines
      .map((l) => JSON.parse(l) as { level: number; step?: string; err?: { message: string } })
      .filter((l) => l.level >= 50);
    expect(errors.map((l) => [l.step, l.err?.message])).toEqual([['supervision', 'digest job stuck']]);

    // The database was released cleanly: the next gateway on the same DATA_DIR starts and stops.
    const next = gatewayIn(dir.path);
    await next.start();
    await next.stop();
  });

  it('starts sending SMS only once the HTTP server listens, so no status callback finds it closed', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const gateway = gatewayIn(dir.path);
    const listeningAtStart: boolean[] = [];
    const start = gateway.dispatcher.start.bind(gateway.dispatcher);
    vi.spyOn(gateway.dispatcher, 'start').mockImplementation(() => {
      listeningAtStart.push(gateway.httpApp?.server.listening === true);
      return start();
    });
    await gateway.start();
    await gateway.stop();
    expect(listeningAtStart).toEqual([true]);
  });

  it('stops the inputs first, commits what the ingest holds before the processor stops, flushes telemetry late and closes the database last', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const gateway = gatewayIn(dir.path);
    await gateway.start();
    // Spies that call through: each records when its part was stopped.
    const stops = {
      http: vi.spyOn(gateway.httpApp!, 'close'),
      broker: vi.spyOn(gateway.broker, 'stop'),
      chirpstack: vi.spyOn(gateway.chirpstack, 'stop'),
      supervision: vi.spyOn(gateway.supervision, 'stop'),
      ingest: vi.spyOn(gateway.ingest, 'stop'),
      processor: vi.spyOn(gateway.processor, 'stop'),
      timers: vi.spyOn(gateway.timers, 'stop'),
      dispatcher: vi.spyOn(gateway.dispatcher, 'stop'),
      telemetry: vi.spyOn(gateway.telemetry, 'stop'),
      database: vi.spyOn(gateway.store, 'close'),
    };

    await gateway.stop();

    const order = Object.entries(stops)
      .map(([name, spy]) => ({ name, at: spy.mock.invocationCallOrder[0] ?? Infinity }))
      .sort((a, b) => a.at - b.at)
      .map((s) => s.name);
    expect(order).toEqual([
      'http',
      'chirpstack',
      'broker',
      'supervision',
      'ingest',
      'processor',
      'timers',
      'dispatcher',
      'telemetry',
      'database',
    ]);
  });
});
