// The InfluxDB 1.x layout the writer sets up: raw points kept 90 days, hourly roll-ups kept two years, and the continuous queries between them.

export const RAW_POLICY = { name: 'raw', duration: '90d', isDefault: true } as const;
export const HOURLY_POLICY = { name: 'hourly', duration: '104w', isDefault: false } as const;
export const RETENTION_POLICIES = [RAW_POLICY, HOURLY_POLICY] as const;

export interface Downsample {
  /** Continuous query name. */
  name: string;
  /**
   * The SELECT … INTO statement; `where` (e.g. `WHERE time >= now() - 1d`) is empty for the continuous
   * query itself and lets the same roll-up be run by hand over past data.
   */
  select(where?: string): string;
}

const q = (id: string): string => `"${id.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** Hourly roll-ups: event counts, mean battery and signal strength, mean incident response times. */
export function downsamples(database: string): Downsample[] {
  const raw = (m: string): string => `${q(database)}.${q(RAW_POLICY.name)}.${q(m)}`;
  const hourly = (m: string): string => `${q(database)}.${q(HOURLY_POLICY.name)}.${q(m)}`;
  const rollup = (name: string, fields: string, measurement: string, groupBy: string): Downsample => ({
    name,
    select: (where = '') =>
      `SELECT ${fields} INTO ${hourly(measurement)} FROM ${raw(measurement)}${where ? ` ${where}` : ''} GROUP BY time(1h), ${groupBy}`,
  });
  const means = (names: string[]): string => names.map((f) => `mean(${q(f)}) AS ${q(f)}`).join(', ');
  return [
    // `*` keeps every tag (device, kind, resident, community, building, type): counts per device and type.
    rollup('event_count_hourly', `sum("value") AS "count"`, 'event', '*'),
    rollup('telemetry_mean_hourly', means(['battery', 'rssi']), 'telemetry', '*'),
    // Each duration sits on the one change that reached it, so grouping leaves out resident and state.
    rollup(
      'incident_times_hourly',
      means(['time_to_first_page_s', 'time_to_ack_s', 'time_to_resolve_s']),
      'incident',
      '"community", "building", "type"',
    ),
  ];
}
