// Where telemetry goes: InfluxDB 1.x through the `influx` client, or 2.x/3.x through @influxdata/influxdb-client, behind one small interface.
import { InfluxDB as InfluxV1, type IPoolOptions } from 'influx';
import { InfluxDB as InfluxV2 } from '@influxdata/influxdb-client';
import type { InfluxConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { downsamples, RAW_POLICY, RETENTION_POLICIES } from './downsampling.js';
import { timeMicros, toLineProtocol, type TelemetryPoint } from './points.js';

export type SinkKind = 'influxdb-1' | 'influxdb-2';

export interface TelemetrySink {
  readonly kind: SinkKind;
  /** Where points go, without credentials (for logs and /healthz). */
  readonly target: string;
  /** Creates what writes need; safe to run again and again (everything tolerates "already exists"). */
  setup(): Promise<void>;
  /** Writes one batch; fails with a SinkError. */
  write(points: readonly TelemetryPoint[]): Promise<void>;
}

/**
 * What the writer should do after a failure: `retry` the batch later (server away, overloaded, auth),
 * run `setup` again first (database or retention policy gone), or `reject` the batch for good
 * (InfluxDB refused the data itself; sending it again would block everything behind it).
 */
export type SinkFailure = 'retry' | 'setup' | 'reject';

export class SinkError extends Error {
  constructor(
    message: string,
    readonly failure: SinkFailure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SinkError';
  }
}

export interface SinkOptions {
  config: InfluxConfig;
  log: Logger;
  /** Per request. */
  timeoutMs: number;
}

export function createSink(opts: SinkOptions): TelemetrySink {
  return opts.config.token ? new InfluxV2Sink(opts) : new InfluxV1Sink(opts);
}

// The `influx` pool would take a failing host out of rotation on its own timer (not unref'd, up to 10 s)
// and retry inside the request; the writer owns retries and backoff, so the pool gets neither.
type Backoff = NonNullable<IPoolOptions['backoff']>;
const NO_BACKOFF: Backoff = { getDelay: () => 0, next: () => NO_BACKOFF, reset: () => NO_BACKOFF };

/** InfluxDB 1.x: database, retention policies `raw` and `hourly`, hourly continuous queries; writes into `raw`. */
export class InfluxV1Sink implements TelemetrySink {
  readonly kind = 'influxdb-1' as const;
  readonly target: string;
  private readonly client: InfluxV1;
  private readonly database: string;

  constructor(private readonly opts: SinkOptions) {
    const url = new URL(opts.config.url);
    const protocol = url.protocol === 'https:' ? 'https' : 'http';
    this.database = opts.config.database;
    this.target = `${url.origin}${url.pathname.replace(/\/+$/, '')} db=${this.database}`;
    this.client = new InfluxV1({
      host: url.hostname,
      port: url.port ? Number(url.port) : protocol === 'https' ? 443 : 80,
      protocol,
      path: url.pathname.replace(/\/+$/, ''),
      database: this.database,
      ...(url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : {}),
      pool: { maxRetries: 0, requestTimeout: opts.timeoutMs, backoff: NO_BACKOFF },
    });
  }

  async setup(): Promise<void> {
    await this.step('create database', () => this.client.createDatabase(this.database));
    for (const rp of RETENTION_POLICIES) {
      await this.step(`create retention policy ${rp.name}`, () =>
        this.client.createRetentionPolicy(rp.name, {
          database: this.database,
          duration: rp.duration,
          replication: 1,
          isDefault: rp.isDefault,
        }),
      );
    }
    for (const cq of downsamples(this.database)) {
      await this.step(`create continuous query ${cq.name}`, () => this.client.createContinuousQuery(cq.name, cq.select(), this.database));
    }
  }

  async write(points: readonly TelemetryPoint[]): Promise<void> {
    if (points.length === 0) return;
    try {
      await this.client.writePoints(
        points.map((p) => ({ measurement: p.measurement, tags: p.tags, fields: p.fields, timestamp: timeMicros(p) })),
        { database: this.database, retentionPolicy: RAW_POLICY.name, precision: 'u' },
      );
    } catch (err) {
      throw classify(err, 'write');
    }
  }

  /** An existing object with other settings (an operator's edit) is kept, not overwritten. */
  private async step(what: string, run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (/already exists|conflicts with an existing policy/i.test(messageOf(err))) {
        this.opts.log.info({ what, detail: messageOf(err) }, 'InfluxDB setup: keeping the existing definition');
        return;
      }
      throw classify(err, what);
    }
  }
}

/** InfluxDB 2.x/3.x: the bucket is the operator's (retention and downsampling are set up there); writes go to /api/v2/write. */
export class InfluxV2Sink implements TelemetrySink {
  readonly kind = 'influxdb-2' as const;
  readonly target: string;
  private readonly client: InfluxV2;
  private readonly writePath: string;

  constructor(opts: SinkOptions) {
    const { url, token, org, bucket } = opts.config;
    if (!token || !org || !bucket) throw new Error('InfluxDB 2.x needs INFLUX_TOKEN, INFLUX_ORG and INFLUX_BUCKET');
    this.target = `${new URL(url).origin} org=${org} bucket=${bucket}`;
    this.client = new InfluxV2({ url, token, timeout: opts.timeoutMs });
    this.writePath = `/api/v2/write?${new URLSearchParams({ org, bucket, precision: 'us' }).toString()}`;
  }

  async setup(): Promise<void> {
    try {
      await this.client.transport.request('/ping', '', { method: 'GET' });
    } catch (err) {
      throw classify(err, 'ping');
    }
  }

  async write(points: readonly TelemetryPoint[]): Promise<void> {
    if (points.length === 0) return;
    try {
      await this.client.transport.request(this.writePath, points.map(toLineProtocol).join('\n'), {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      });
    } catch (err) {
      throw classify(err, 'write');
    }
  }
}

function classify(err: unknown, what: string): SinkError {
  const status = statusOf(err);
  const message = `${what}: ${status ? `HTTP ${status}: ` : ''}${messageOf(err)}`;
  if (status === 404 || /database not found|retention policy not found/i.test(message))
    return new SinkError(message, 'setup', { cause: err });
  // 400: unparsable or conflicting data (a partial write has already stored the rest); 413: too large, never fits.
  if (status === 400 || status === 413 || status === 422) return new SinkError(message, 'reject', { cause: err });
  return new SinkError(message, 'retry', { cause: err });
}

/** HTTP status of an `influx` RequestError (err.res.statusCode) or an influxdb-client HttpError (err.statusCode). */
function statusOf(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  if ('statusCode' in err && typeof err.statusCode === 'number') return err.statusCode;
  if (
    'res' in err &&
    typeof err.res === 'object' &&
    err.res !== null &&
    'statusCode' in err.res &&
    typeof err.res.statusCode === 'number'
  ) {
    return err.res.statusCode;
  }
  return null;
}

function messageOf(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(messageOf).join('; ');
  if (err instanceof Error) return err.message || ('code' in err && typeof err.code === 'string' ? err.code : err.name);
  return String(err);
}
