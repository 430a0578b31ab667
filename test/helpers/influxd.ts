// A real influxd 1.x for tests (the start/stop logic lives in bench/lib/influxd.ts, shared with the benchmark), plus an InfluxQL client on it.
import { InfluxDB } from 'influx';
import { InfluxdServer } from '../../bench/lib/influxd.js';

export { InfluxdServer, influxdConfig, INFLUXD_BINARY } from '../../bench/lib/influxd.js';

/** Starts influxd on a free loopback port; call dispose() in afterAll so it never outlives the test file. */
export async function startInfluxd(): Promise<InfluxdServer> {
  const server = new InfluxdServer();
  await server.start();
  return server;
}

/** An `influx` client for reading back with InfluxQL (no retries, short timeout). */
export function queryClient(server: InfluxdServer, database: string): InfluxDB {
  const { hostname, port } = new URL(server.url);
  // A backoff of 0 keeps the pool from taking the host out of rotation (on a timer) while influxd restarts.
  const backoff = { getDelay: () => 0, next: () => backoff, reset: () => backoff };
  return new InfluxDB({ host: hostname, port: Number(port), database, pool: { maxRetries: 0, requestTimeout: 5000, backoff } });
}
