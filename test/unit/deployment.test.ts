// The deployment files agree with the contract: there is no Docker engine here, so they are parsed and checked.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema } from '../../gateway/config/schema.js';
import { validateRegistry } from '../../gateway/registry/load.js';
import type { Device, Resident } from '../../gateway/core/types.js';
import {
  MEASUREMENTS,
  careTaskPoint,
  deviceStatusPoint,
  deviceTags,
  eventPoint,
  incidentPoint,
  outagePoint,
  pagePoint,
  telemetryPoint,
  type TelemetryPoint,
} from '../../gateway/telemetry/points.js';
import { DEFAULT_FATAL_STOP_MS } from '../../gateway/fatal.js';
import { dashboardQueries, identifiersOf, measurementsOf, readDashboard, readDatasources, readProviders } from '../helpers/grafana.js';
import { careTaskOf, lifecycleOf, outageOf, signalOf, smsOf } from '../helpers/telemetry-fixtures.js';

interface Compose {
  services: Record<
    string,
    {
      build?: string;
      image?: string;
      restart?: string;
      ports?: string[];
      environment?: Record<string, string>;
      volumes?: string[];
      depends_on?: string[];
    }
  >;
  volumes: Record<string, unknown>;
}

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as Compose;
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');

describe('docker-compose.yml and Dockerfile', () => {
  it('runs the gateway on the contract ports with a persistent DATA_DIR', () => {
    const gw = compose.services.gateway!;
    expect(gw.build).toBe('.');
    expect(gw.ports).toEqual(expect.arrayContaining(['1883:1883', '8080:8080']));
    expect(gw.environment).toMatchObject({ MQTT_PORT: '1883', HTTP_PORT: '8080', DATA_DIR: '/data', TZ: 'Asia/Shanghai' });
    expect(gw.volumes).toContain('gateway-data:/data');
    expect(compose.volumes).toHaveProperty('gateway-data');
  });

  it('only sets variables the gateway knows, and points InfluxDB at the influxdb:1.8 service', () => {
    const known = new Set([...Object.keys(configSchema.shape), 'TZ']);
    for (const name of Object.keys(compose.services.gateway!.environment ?? {})) expect(known, name).toContain(name);
    expect(compose.services.influxdb!.image).toBe('influxdb:1.8');
    expect(compose.services.gateway!.environment!.INFLUX_URL).toBe('http://influxdb:8086');
    expect(compose.services.gateway!.depends_on).toContain('influxdb');
  });

  it('builds in two stages and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/EXPOSE 1883 8080/);
  });

  it('builds the dashboard into the image with tools that survive `npm ci --omit=dev`', () => {
    expect(dockerfile).toMatch(/^RUN node --import tsx dashboard\/build\.ts$/m);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of ['vite', 'tsx', '@fastify/static']) expect(Object.keys(pkg.dependencies), dep).toContain(dep);
  });

  it('has no default passwords: Grafana refuses to start without GRAFANA_ADMIN_PASSWORD', () => {
    const env = compose.services.grafana!.environment ?? {};
    expect(env.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
  });

  it('ships an example registry that validates', () => {
    const doc = parse(readFileSync(new URL('registry/example.yaml', root), 'utf8')) as unknown;
    expect(() => validateRegistry(doc)).not.toThrow();
  });
});

/** `[Section]` -> key -> values (a key may repeat, as in systemd's own unit files). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 1) throw new Error(`not a unit file line: ${line}`);
    const key = line.slice(0, eq).trim();
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return sections;
}

describe('the gateway starts with a young generation sized for its garbage', () => {
  // V8 starts the young generation at 1 MiB and grows it only when much survives a scavenge; the gateway's telemetry
  // garbage dies young, so without the flag it scavenges about four times as often under load.
  it('npm start, the bench, the systemd unit and the container all pass --min-semi-space-size=16', () => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toMatch(/^tsx --min-semi-space-size=16 gateway\/main\.ts$/);
    expect(pkg.scripts.bench).toMatch(/^tsx --min-semi-space-size=16 bench\/run\.ts$/);
    const unit = parseUnit(readFileSync(new URL('deploy/systemd/care-gateway.service', root), 'utf8'));
    expect(unit.get('Service')?.get('ExecStart')?.at(-1)).toBe('/usr/bin/node --min-semi-space-size=16 --import tsx gateway/main.ts');
    expect(dockerfile).toContain('CMD ["node_modules/.bin/tsx", "--min-semi-space-size=16", "gateway/main.ts"]');
  });
});

describe('a process supervisor restarts the gateway', () => {
  it('docker-compose.yml restarts every service unless an operator stopped it', () => {
    for (const [name, service] of Object.entries(compose.services)) expect(service.restart, name).toMatch(/^(always|unless-stopped)$/);
  });

  it('the systemd unit restarts the gateway always, without a start limit, and stops it with SIGTERM first', () => {
    const unit = parseUnit(readFileSync(new URL('deploy/systemd/care-gateway.service', root), 'utf8'));
    const service = unit.get('Service');
    const value = (section: Map<string, string[]> | undefined, key: string) => section?.get(key)?.at(-1);
    expect(value(service, 'Restart')).toBe('always');
    expect(Number(value(service, 'RestartSec'))).toBeGreaterThan(0);
    expect(value(unit.get('Unit'), 'StartLimitIntervalSec')).toBe('0');
    expect(value(service, 'ExecStart')).toMatch(/gateway\/main\.ts$/);
    expect(value(service, 'EnvironmentFile')).toMatch(/^-?\/etc\/care-gateway\//);
    expect(value(service, 'KillSignal') ?? 'SIGTERM').toBe('SIGTERM');
    // Longer than the bounded stop after a fault, so systemd does not cut a stop the gateway itself would finish.
    expect(Number(value(service, 'TimeoutStopSec')) * 1000).toBeGreaterThan(DEFAULT_FATAL_STOP_MS);
    expect(value(service, 'User')).not.toBe('root');
    expect(value(service, 'NoNewPrivileges')).toBe('true');
    expect(value(service, 'ProtectSystem')).toBe('strict');
    // V8 writes machine code at run time: this option would kill node at start.
    expect(service?.has('MemoryDenyWriteExecute')).toBe(false);
    // ProtectSystem=strict makes everything read-only but the data directory systemd creates for the unit.
    const dataDir = (value(service, 'Environment') ?? '')
      .split(/\s+/)
      .find((kv) => kv.startsWith('DATA_DIR='))
      ?.slice('DATA_DIR='.length);
    expect(dataDir).toBe(`/var/lib/${value(service, 'StateDirectory')}`);
    expect(value(unit.get('Install'), 'WantedBy')).toBe('multi-user.target');
  });
});

/** Per measurement, every field and tag name gateway/telemetry/points.ts writes, from real mapper output. */
function writtenSchema(): Map<string, Set<string>> {
  const resident: Resident = {
    id: 'r-001',
    name: '张桂兰',
    community: 'andali',
    address: '安达里3号楼2门401',
    building: '安达里3号楼',
    family: [],
  };
  const device: Device = { id: 'fall-001', kind: 'fall_sensor', resident: 'r-001', secretHash: 'x' };
  const where = deviceTags(device, resident);
  const fall = signalOf({ type: 'fall', seq: 1, at: 1, deviceId: 'fall-001', battery: 80 });
  const points: (TelemetryPoint | null)[] = [
    eventPoint({ ...fall, payload: { ...fall.payload, confidence: 0.9 } }, where),
    telemetryPoint({ deviceId: 'fall-001', battery: 80, rssi: -60, at: 1, payload: { battery: 80, rssi: -60 } }, where),
    deviceStatusPoint({ deviceId: 'fall-001', state: 'online', at: 1 }, where),
    ...lifecycleOf(1).map(([incident, entry]) =>
      incidentPoint(incident, entry, { resident: 'r-001', community: 'andali', building: '安达里3号楼' }),
    ),
    pagePoint(smsOf({ status: 'delivered', at: 1 }), { resident: 'r-001', community: 'andali', building: '安达里3号楼' }),
    careTaskPoint(careTaskOf({ at: 1 }), 'opened', { resident: 'r-001', community: 'andali', building: '安达里3号楼' }),
    careTaskPoint(careTaskOf({ at: 1, closedAfterS: 60 }), 'closed', { resident: 'r-001', community: 'andali', building: '安达里3号楼' }),
    outagePoint(outageOf({ at: 1 }), 'opened', '安达里3号楼'),
    outagePoint(outageOf({ at: 1, closedAfterS: 600 }), 'closed', '安达里3号楼'),
  ];
  const schema = new Map<string, Set<string>>();
  for (const p of points) {
    if (!p) continue;
    const names = schema.get(p.measurement) ?? new Set<string>();
    for (const k of [...Object.keys(p.tags), ...Object.keys(p.fields)]) names.add(k);
    schema.set(p.measurement, names);
  }
  return schema;
}

describe('Grafana in docker-compose.yml and deploy/grafana', () => {
  const grafana = compose.services.grafana;

  it('runs grafana-oss on port 3000 after InfluxDB, with the provisioning mounted and its state in a volume', () => {
    expect(grafana?.image).toMatch(/^grafana\/grafana-oss(:[\w.-]+)?$/);
    expect(grafana?.ports).toContain('3000:3000');
    expect(grafana?.depends_on).toContain('influxdb');
    expect(grafana?.volumes).toEqual(
      expect.arrayContaining([
        './deploy/grafana/provisioning:/etc/grafana/provisioning:ro',
        './deploy/grafana/dashboards:/etc/grafana/dashboards:ro',
        'grafana-data:/var/lib/grafana',
      ]),
    );
    expect(compose.volumes).toHaveProperty('grafana-data');
    expect(grafana?.environment?.GF_USERS_ALLOW_SIGN_UP).toBe('false');
  });

  it('provisions one InfluxDB datasource at the compose InfluxDB and the database the gateway writes', () => {
    const { apiVersion, datasources } = readDatasources();
    expect(apiVersion).toBe(1);
    expect(datasources).toHaveLength(1);
    const ds = datasources[0]!;
    expect(ds).toMatchObject({ type: 'influxdb', url: 'http://influxdb:8086', database: 'eldercare', jsonData: { dbName: 'eldercare' } });
    expect(ds.url).toBe(compose.services.gateway!.environment!.INFLUX_URL);
    expect(ds.jsonData?.dbName).toBe(compose.services.gateway!.environment!.INFLUX_DATABASE);
    expect(ds.jsonData?.dbName).toBe(compose.services.influxdb!.environment!.INFLUXDB_DB);
  });

  it('loads the dashboard from where the compose file mounts it, and every panel uses the provisioned datasource', () => {
    const { providers } = readProviders();
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ type: 'file', options: { path: '/etc/grafana/dashboards' } });
    const dashboard = readDashboard();
    expect(dashboard.uid).toBe('eldercare-gateway');
    const uid = readDatasources().datasources[0]!.uid;
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(6);
    for (const p of dashboard.panels) {
      expect(p.datasource?.uid, p.title).toBe(uid);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.rawQuery, `${p.title} ${t.refId}`).toBe(true);
    }
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('queries only measurements, fields and tags that gateway/telemetry/points.ts writes', () => {
    const schema = writtenSchema();
    expect([...schema.keys()].sort()).toEqual([...MEASUREMENTS].sort());
    const queried = new Set<string>();
    for (const { where, query } of dashboardQueries(readDashboard())) {
      const measurements = measurementsOf(query);
      expect(measurements.length, where).toBeGreaterThan(0);
      const known = new Set<string>();
      for (const m of measurements) {
        expect(MEASUREMENTS as readonly string[], `${where}: measurement "${m}"`).toContain(m);
        queried.add(m);
        for (const name of schema.get(m) ?? []) known.add(name);
      }
      for (const id of identifiersOf(query))
        expect([...known], `${where}: "${id}" is not written to ${measurements.join(', ')}`).toContain(id);
    }
    // Each measurement has at least one panel: devices, events, telemetry, incidents and pages are all on the dashboard.
    expect([...queried].sort()).toEqual([...MEASUREMENTS].sort());
  });

  it('names what the issue asks for: devices online, battery, events per hour, incidents, time-to-acknowledge per community, page delivery', () => {
    const titles = readDashboard().panels.map((p) => p.title.toLowerCase());
    for (const words of [
      'devices online',
      'batter',
      'events per hour',
      'incidents',
      'time to acknowledge by community',
      'time to first page',
      'time to resolve',
      'delivery',
    ]) {
      expect(
        titles.some((t) => t.includes(words)),
        words,
      ).toBe(true);
    }
  });
});
