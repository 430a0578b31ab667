// Telemetry writer with INFLUX_TOKEN set: the real @influxdata/influxdb-client against a local InfluxDB-2-compatible write endpoint (no 2.x server is installed).
import { createServer, type Server } from 'node:http';
import { waitFor } from '../helpers/wait.js';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../gateway/core/clock.js';
import { EventBus } from '../../gateway/core/events.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { importRegistryDocument } from '../../gateway/registry/import.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { TelemetryWriter, type TelemetryEvents } from '../../gateway/telemetry/writer.js';
import { signalOf, smsOf } from '../helpers/telemetry-fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'test-influx-token';

/** Accepts /ping and /api/v2/write like InfluxDB 2.x; `answer` decides the status of the next writes. */
class WriteEndpoint {
  readonly requests: { url: string; auth: string | undefined; lines: string[] }[] = [];
  answer: 204 | 400 | 503 = 204;
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        if (req.headers.authorization !== `Token ${TOKEN}`) return void res.writeHead(401).end();
        if (req.url === '/ping') return void res.writeHead(204).end();
        if (this.answer !== 204) {
          res.writeHead(this.answer, { 'content-type': 'application/json' });
          return void res.end(JSON.stringify({ code: this.answer === 400 ? 'invalid' : 'unavailable', message: 'test answer' }));
        }
        this.requests.push({ url: req.url ?? '', auth: req.headers.authorization, lines: body.split('\n') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  lines(): string[] {
    return this.requests.flatMap((r) => r.lines);
  }
}

let endpoint: WriteEndpoint;
let store: SqliteStore;
let dir: { path: string; remove: () => void };
let writer: TelemetryWriter | null = null;
const log = silentLogger();

beforeAll(async () => {
  dir = tempDir('care-telemetry-v2-');
  store = openSqliteStore(join(dir.path, 'gateway.db'));
  await importRegistryDocument(
    { store, log },
    {
      communities: [{ id: 'andali', name: '安达里社区' }],
      residents: [{ id: 'r-001', name: '张桂兰', community: 'andali', address: '安达里3号楼2门401', family: [] }],
      devices: [{ id: 'btn-001', kind: 'sos_button', resident: 'r-001', secret: 's3cret-btn-001' }],
    },
  );
  endpoint = new WriteEndpoint();
  await endpoint.start();
});

afterEach(async () => {
  await writer?.stop();
  writer = null;
});

afterAll(async () => {
  await endpoint?.stop();
  await store?.close();
  dir?.remove();
});

function start(bus: EventBus<TelemetryEvents>): Promise<void> {
  writer = new TelemetryWriter({
    config: { url: endpoint.url, database: 'eldercare', token: TOKEN, org: 'care', bucket: 'telemetry' },
    store,
    bus,
    log,
    clock: systemClock,
    flushMs: 50,
    requestTimeoutMs: 2000,
  });
  return writer.start();
}

describe('telemetry writer, InfluxDB 2.x client', () => {
  it('writes line protocol to /api/v2/write with the org, bucket and token', async () => {
    const bus = new EventBus<TelemetryEvents>(log);
    await start(bus);
    expect(writer?.health()).toMatchObject({ status: 'up', backend: 'influxdb-2' });
    const at = Date.UTC(2026, 10, 26, 2, 0, 0);
    bus.emit('signalReceived', signalOf({ type: 'sos', seq: 9, at }));
    bus.emit('smsStatusChanged', smsOf({ status: 'delivered', at: at + 1 }));
    await writer?.flush();
    expect(endpoint.requests[0]?.url).toBe('/api/v2/write?org=care&bucket=telemetry&precision=us');
    expect(endpoint.lines()).toEqual([
      `event,device=btn-001,kind=sos_button,resident=r-001,community=andali,building=安达里3号楼,type=sos seq=9,value=1 ${at * 1000 + 1}`,
      `page,role=worker,status=delivered,purpose=page attempts=1,incident="inc-20261126-0001",step=1 ${(at + 1) * 1000 + 2}`,
    ]);
  });

  it('drops a batch the server refuses as invalid, buffers through a 503 and backfills after it', async () => {
    const bus = new EventBus<TelemetryEvents>(log);
    endpoint.requests.length = 0;
    await start(bus);
    const at = Date.now();
    endpoint.answer = 400;
    bus.emit('signalReceived', signalOf({ type: 'heartbeat', seq: 1, at }));
    await writer?.flush();
    expect(writer?.health()).toMatchObject({ status: 'up', rejected: 1, buffered: 0 });

    endpoint.answer = 503;
    bus.emit('signalReceived', signalOf({ type: 'heartbeat', seq: 2, at: at + 1 }));
    await writer?.flush();
    expect(writer?.health()).toMatchObject({ status: 'down', buffered: 1 });
    expect(writer?.health().lastError).toMatch(/503/);

    endpoint.answer = 204;
    await waitFor(
      'the writer up with nothing buffered',
      async () => {
        const h = writer?.health();
        return h?.status === 'up' && h.buffered === 0;
      },
      { retryErrors: true, intervalMs: 50 },
    );
    expect(endpoint.lines().map((l) => /seq=(\d+)/.exec(l)?.[1])).toEqual(['2']);
  });
});
