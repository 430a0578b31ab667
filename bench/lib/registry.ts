// A generated neighbourhood for the benchmarks: many residents with an SOS button each, telemetry devices, workers on duty around the clock.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryDocument } from '../../gateway/registry/schema.js';
import type { DeviceCredentials } from './clients.js';

export interface BenchRegistryOptions {
  /** One resident per alarm of a round: each alarm opens its own incident. */
  residents: number;
  /** Telemetry-only devices (motion sensors) for the background load, spread over the residents. */
  loadDevices: number;
}

export interface AlarmButton extends DeviceCredentials {
  residentId: string;
  /** Unique per resident; appears in every page about them, so an SMS can be traced back to its alarm. */
  residentName: string;
}

export interface BenchRegistry {
  path: string;
  buttons: AlarmButton[];
  loadDevices: DeviceCredentials[];
}

const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const ORIGIN = { lat: 39.21, lon: 117.13 };

/** The resident name of index i: `老人0042`. Fixed width, so no name is a prefix of another. */
export function residentName(i: number): string {
  return `老人${String(i).padStart(5, '0')}`;
}

/** Reads the resident index back out of an SMS body, or null when the body names no bench resident. */
export function residentIndexIn(body: string): number | null {
  const m = /老人(\d{5})/.exec(body);
  return m?.[1] ? Number(m[1]) : null;
}

export interface GeneratedRegistry {
  doc: RegistryDocument;
  buttons: AlarmButton[];
  sensors: DeviceCredentials[];
}

/**
 * The neighbourhood every benchmark uses: `residents` residents (`r-00000` …) with an SOS button each (`btn-00000` …)
 * and one family phone, `sensors` motion sensors (`pir-00000` …) spread over them, four workers on duty around the
 * clock. `secretOf` gives each device its secret.
 */
export function benchRegistryDoc(opts: { residents: number; sensors: number; secretOf: () => string }): GeneratedRegistry {
  const pad = (i: number): string => String(i).padStart(5, '0');
  const buttons: AlarmButton[] = [];
  const sensors: DeviceCredentials[] = [];
  const residents: RegistryDocument['residents'] = [];
  const devices: NonNullable<RegistryDocument['devices']> = [];
  for (let i = 0; i < opts.residents; i++) {
    const id = `r-${pad(i)}`;
    const name = residentName(i);
    residents.push({
      id,
      name,
      community: 'bench',
      address: `${1 + (i % 40)}号楼${1 + (i % 4)}门${101 + (i % 600)}`,
      location: { lat: ORIGIN.lat + (i % 40) * 0.0005, lon: ORIGIN.lon + Math.floor(i / 40) * 0.0002 },
      family: [{ name: `家属${pad(i)}`, relation: '子女', phone: `+86137${String(i).padStart(8, '0')}` }],
    });
    const button = { id: `btn-${pad(i)}`, secret: opts.secretOf(), residentId: id, residentName: name };
    buttons.push(button);
    devices.push({ id: button.id, kind: 'sos_button', resident: id, secret: button.secret });
  }
  for (let i = 0; i < opts.sensors; i++) {
    const sensor = { id: `pir-${pad(i)}`, secret: opts.secretOf() };
    sensors.push(sensor);
    devices.push({ id: sensor.id, kind: 'motion_sensor', resident: `r-${pad(i % Math.max(1, opts.residents))}`, secret: sensor.secret });
  }
  const doc: RegistryDocument = {
    // A long ack timeout and offline limit: no escalation round and no offline alarm may fire while a benchmark runs.
    escalation: { ackTimeoutSeconds: 3600, fallCancelSeconds: 30, offlineAfterSeconds: 86_400 },
    communities: [{ id: 'bench', name: '基准社区', dutyContacts: [{ name: '基准值班室', phone: '+8618200009999' }] }],
    residents,
    workers: [0, 1, 2, 3].map((w) => ({
      id: `w-${w + 1}`,
      name: `网格员${w + 1}`,
      phone: `+861390000${String(w + 1).padStart(4, '0')}`,
      community: 'bench',
      location: { lat: ORIGIN.lat + (w % 2) * 0.02, lon: ORIGIN.lon + Math.floor(w / 2) * 0.02 },
      shifts: [{ days: [...WEEK], from: '00:00', to: '00:00' }],
    })),
    devices,
  };
  return { doc, buttons, sensors };
}

/** The latency benchmark's registry, written as a file: every device with its own random secret. */
export function writeBenchRegistry(dir: string, opts: BenchRegistryOptions): BenchRegistry {
  const { doc, buttons, sensors } = benchRegistryDoc({
    residents: opts.residents,
    sensors: opts.loadDevices,
    secretOf: () => randomBytes(16).toString('hex'),
  });
  const path = join(dir, 'registry.json');
  writeFileSync(path, JSON.stringify(doc));
  return { path, buttons, loadDevices: sensors };
}
