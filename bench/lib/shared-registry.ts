// A generated neighbourhood for the throughput, connection and storm benchmarks: N residents with a button each, motion sensors, one shared device secret.
import type { RegistryDocument } from '../../gateway/registry/schema.js';
import type { DeviceCredentials } from './clients.js';
import { residentName } from './registry.js';

export interface SharedRegistryOptions {
  /** Residents, each with an SOS button (`btn-00000` …) and one family phone. */
  residents: number;
  /** Motion sensors (`pir-00000` …), spread over the residents. */
  sensors: number;
  /** The one secret of every device (see seed-registry.ts: it is hashed once). */
  secret: string;
}

export interface SharedRegistry {
  doc: RegistryDocument;
  buttons: DeviceCredentials[];
  sensors: DeviceCredentials[];
}

const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const ORIGIN = { lat: 39.21, lon: 117.13 };
const pad = (i: number): string => String(i).padStart(5, '0');

export function sharedSecretRegistry(opts: SharedRegistryOptions): SharedRegistry {
  const residents: RegistryDocument['residents'] = [];
  const devices: NonNullable<RegistryDocument['devices']> = [];
  const buttons: DeviceCredentials[] = [];
  const sensors: DeviceCredentials[] = [];
  for (let i = 0; i < opts.residents; i++) {
    const id = `r-${pad(i)}`;
    residents.push({
      id,
      name: residentName(i),
      community: 'bench',
      address: `${1 + (i % 40)}号楼${1 + (i % 4)}门${101 + (i % 600)}`,
      location: { lat: ORIGIN.lat + (i % 40) * 0.0005, lon: ORIGIN.lon + Math.floor(i / 40) * 0.0002 },
      family: [{ name: `家属${pad(i)}`, relation: '子女', phone: `+86137${String(i).padStart(8, '0')}` }],
    });
    const button = { id: `btn-${pad(i)}`, secret: opts.secret };
    buttons.push(button);
    devices.push({ id: button.id, kind: 'sos_button', resident: id, secret: opts.secret });
  }
  for (let i = 0; i < opts.sensors; i++) {
    const sensor = { id: `pir-${pad(i)}`, secret: opts.secret };
    sensors.push(sensor);
    devices.push({ id: sensor.id, kind: 'motion_sensor', resident: `r-${pad(i % Math.max(1, opts.residents))}`, secret: opts.secret });
  }
  const doc: RegistryDocument = {
    // No escalation round and no offline alarm may fire while a benchmark runs.
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
