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

export function writeBenchRegistry(dir: string, opts: BenchRegistryOptions): BenchRegistry {
  const secret = (): string => randomBytes(16).toString('hex');
  const buttons: AlarmButton[] = [];
  const residents: RegistryDocument['residents'] = [];
  const devices: NonNullable<RegistryDocument['devices']> = [];
  for (let i = 0; i < opts.residents; i++) {
    const id = `r-${String(i).padStart(5, '0')}`;
    const name = residentName(i);
    const building = 1 + (i % 40);
    residents.push({
      id,
      name,
      community: 'bench',
      address: `${building}号楼${1 + (i % 4)}门${101 + (i % 600)}`,
      location: { lat: ORIGIN.lat + (i % 40) * 0.0005, lon: ORIGIN.lon + Math.floor(i / 40) * 0.0002 },
      family: [{ name: `家属${String(i).padStart(5, '0')}`, relation: '子女', phone: `+86137${String(i).padStart(8, '0')}` }],
    });
    const button = { id: `btn-${String(i).padStart(5, '0')}`, secret: secret(), residentId: id, residentName: name };
    buttons.push(button);
    devices.push({ id: button.id, kind: 'sos_button', resident: id, secret: button.secret });
  }
  const loadDevices: DeviceCredentials[] = [];
  for (let i = 0; i < opts.loadDevices; i++) {
    const d = { id: `pir-${String(i).padStart(5, '0')}`, secret: secret() };
    loadDevices.push(d);
    devices.push({ id: d.id, kind: 'motion_sensor', resident: `r-${String(i % opts.residents).padStart(5, '0')}`, secret: d.secret });
  }
  const doc: RegistryDocument = {
    // A long ack timeout: no escalation round may fire while a round of alarms is being measured.
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
  const path = join(dir, 'registry.json');
  writeFileSync(path, JSON.stringify(doc));
  return { path, buttons, loadDevices };
}
