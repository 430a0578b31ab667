// Generates the demo neighbourhood (deterministic per seed) and keeps one copy per installation in DATA_DIR.
import type { TemplateCatalogue } from '../notifiers/intent.js';
import { defaultCatalogue } from '../notifiers/kinds.js';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Document, isScalar, isSeq, visit } from 'yaml';
import { DEFAULT_ESCALATION } from '../core/types.js';
import { GatewayError } from '../core/errors.js';
import {
  DEMO_COMMUNITIES,
  DUTY_PREFIXES,
  FAMILY_PREFIXES,
  HEALTH_NOTES,
  LIVES_WITH,
  OLDER_FEMALE,
  OLDER_MALE,
  RELATIONS,
  SURNAMES,
  VISIT_ACTIVITIES,
  VOLUNTEER_PREFIXES,
  WORKER_PREFIXES,
  YOUNGER_FEMALE,
  YOUNGER_MALE,
  type DemoCommunity,
  type Point,
} from './demo-data.js';
import { loadRegistryFile, validateRegistry } from './load.js';
import { DOC_WEEKDAYS, type RegistryDocument, type ValidatedRegistry } from './schema.js';

export const DEMO_REGISTRY_FILE = 'demo-registry.yaml';
export const DEFAULT_DEMO_SEED = 20240501;
export const DEFAULT_DEMO_RESIDENTS = 300;

type Item<K extends 'communities' | 'residents' | 'workers' | 'bridges' | 'devices' | 'volunteers' | 'visits'> = NonNullable<
  RegistryDocument[K]
>[number];

export interface DemoOptions {
  seed?: number;
  residents?: number;
  /** Device secret per device id; by default derived from the seed (ensureDemoRegistryFile uses random ones). */
  secret?: (deviceId: string) => string;
  /** PUBLIC_URL: the fixed link in the demo SMS template catalogue (default http://localhost:8080). */
  publicUrl?: string;
}

/** Small, fast, seedable PRNG: the same seed always gives the same neighbourhood. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** mulberry32: uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

/** Hands out distinct mobile numbers: no two people of the demo share a phone. */
class PhoneBook {
  private readonly used = new Set<string>();
  constructor(private readonly rng: Rng) {}
  take(prefixes: readonly string[]): string {
    for (;;) {
      const phone = `+86${this.rng.pick(prefixes)}${String(this.rng.int(0, 99_999_999)).padStart(8, '0')}`;
      if (!this.used.has(phone)) {
        this.used.add(phone);
        return phone;
      }
    }
  }
}

export function generateDemoRegistry(opts: DemoOptions = {}): RegistryDocument {
  const seed = opts.seed ?? DEFAULT_DEMO_SEED;
  const rng = new Rng(seed);
  const phones = new PhoneBook(rng);
  // Secrets draw from their own stream, so replacing them (ensureDemoRegistryFile) changes nothing else.
  const secretRng = new Rng(seed ^ 0x5eed5eed);
  const secret = opts.secret ?? ((): string => `demo-${Array.from({ length: 24 }, () => secretRng.int(0, 15).toString(16)).join('')}`);
  const count = Math.max(1, Math.floor(opts.residents ?? DEFAULT_DEMO_RESIDENTS));

  const communities = DEMO_COMMUNITIES.map((c): Item<'communities'> => ({
    id: c.id,
    name: `${c.name}社区`,
    location: c.center,
    dutyContacts: [
      { name: `${c.name}社区值班手机`, phone: phones.take(DUTY_PREFIXES) },
      { name: `${rng.pick(SURNAMES)}主任（${c.name}社区居委会）`, phone: phones.take(DUTY_PREFIXES) },
    ],
  }));

  const { residents, devices } = demoResidents(rng, phones, count, secret);
  const workers = DEMO_COMMUNITIES.flatMap((c) => demoWorkers(rng, phones, c));
  const { volunteers, visits } = demoVolunteers(rng, phones, residents);
  // Last, and without the main stream, so adding bridges changed none of the people or devices above.
  const bridged = demoBridges(residents, secret);

  // The complete template catalogue, as submitted for approval (docs/providers.md), so any provider can be chosen.
  const sms = { templates: registryTemplates(defaultCatalogue(opts.publicUrl ?? 'http://localhost:8080')) };
  return {
    escalation: { ...DEFAULT_ESCALATION },
    sms,
    communities,
    residents,
    workers,
    bridges: bridged.bridges,
    devices: [...devices, ...bridged.devices],
    volunteers,
    visits,
  };
}

/** A catalogue in the registry's `sms.templates` form: each kind's text, label and provider templates. */
export function registryTemplates(catalogue: TemplateCatalogue): NonNullable<RegistryDocument['sms']>['templates'] {
  const templates: NonNullable<RegistryDocument['sms']>['templates'] = {};
  for (const [kind, e] of Object.entries(catalogue)) {
    templates[kind] = {
      text: e.text,
      ...(e.label ? { label: e.label } : {}),
      ...(e.aliyun ? { aliyun: { templateCode: e.aliyun.templateCode } } : {}),
      ...(e.tencent ? { tencent: { templateId: e.tencent.templateId, params: [...e.tencent.params] } } : {}),
    };
  }
  return templates;
}

/**
 * One bridge of each kind in the first community, each with a device or two of its first residents: a zigbee2mqtt
 * on our broker (Tuya SOS button, Aqara motion sensor), a ChirpStack network server on a local broker (port 1884,
 * which the gateway serves itself for the demo, see bridges/chirpstack/demo-stand-in.ts), and a OneNET-style vendor
 * cloud pushing HTTP.
 */
function demoBridges(
  residents: readonly Item<'residents'>[],
  secret: (id: string) => string,
): { bridges: Item<'bridges'>[]; devices: Item<'devices'>[] } {
  const first = DEMO_COMMUNITIES[0]?.id;
  // Residents whose inactivity is watched, so the motion sensor counts for something.
  const [a, b] = residents.filter((r) => r.community === first && r.inactivityHours !== undefined);
  const bridges: Item<'bridges'>[] = [
    {
      id: 'z2m-andali',
      kind: 'zigbee2mqtt',
      name: '安达里 Zigbee 网关',
      secret: secret('z2m-andali'),
      baseTopic: 'zigbee2mqtt',
      offlineAfterSeconds: 4 * 3600,
    },
    {
      id: 'cs-andali',
      kind: 'chirpstack',
      name: '安达里 LoRaWAN',
      url: 'mqtt://127.0.0.1:1884',
      username: 'gateway',
      password: secret('cs-andali'),
      applicationId: '6d1f0c9e-3b7a-4c55-9e21-0a8d2f4b7c10',
      offlineAfterSeconds: 24 * 3600,
    },
    { id: 'onenet-andali', kind: 'http', name: '安达里 4G 呼叫器 (OneNET)', secret: secret('onenet-andali'), auth: 'onenet' },
  ];
  const devices: Item<'devices'>[] = [];
  if (a) {
    devices.push({
      id: 'zb-btn-001',
      kind: 'sos_button',
      resident: a.id,
      bridge: 'z2m-andali',
      externalId: '0x00158d0001a2b3c4',
      model: 'TS0215A_sos',
    });
    devices.push({
      id: 'zb-motion-001',
      kind: 'motion_sensor',
      resident: a.id,
      bridge: 'z2m-andali',
      externalId: 'hall-motion-001',
      model: 'RTCGQ11LM',
    });
    devices.push({ id: 'lora-btn-001', kind: 'sos_button', resident: a.id, bridge: 'cs-andali', externalId: '70b3d57ed0000001' });
  }
  if (b) devices.push({ id: 'nb-btn-002', kind: 'sos_button', resident: b.id, bridge: 'onenet-andali', externalId: 'onenet-pendant-002' });
  return { bridges, devices };
}

function personName(rng: Rng, female: boolean, older: boolean, surname?: string): string {
  const given = older ? rng.pick(female ? OLDER_FEMALE : OLDER_MALE) : rng.pick(female ? YOUNGER_FEMALE : YOUNGER_MALE);
  return `${surname ?? rng.pick(SURNAMES)}${given}`;
}

function near(p: Point, dLat: number, dLon: number): Point {
  return { lat: round6(p.lat + dLat), lon: round6(p.lon + dLon) };
}

function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

/** Buildings sit on a rough grid around the community's centre, four to a row. */
function buildingLocation(c: DemoCommunity, building: number): Point {
  const row = Math.floor((building - 1) / 4);
  const col = (building - 1) % 4;
  return near(c.center, (row - 1) * 0.0007, (col - 1.5) * 0.0009);
}

function demoResidents(rng: Rng, phones: PhoneBook, count: number, secret: (deviceId: string) => string) {
  const width = Math.max(3, String(count).length);
  const taken = new Set<string>();
  const residents: Item<'residents'>[] = [];
  const devices: Item<'devices'>[] = [];
  for (let i = 0; i < count; i++) {
    const n = String(i + 1).padStart(width, '0');
    const c = DEMO_COMMUNITIES[i % DEMO_COMMUNITIES.length] ?? DEMO_COMMUNITIES[0];
    if (!c) throw new Error('no demo communities');
    let building = 1;
    let door = 1;
    let address = '';
    do {
      building = rng.int(1, c.buildings);
      door = rng.int(1, 4);
      address = `${c.name}${building}号楼${door}门${rng.int(1, 6)}0${rng.int(1, 2)}`;
    } while (taken.has(address));
    taken.add(address);

    const female = rng.chance(0.58);
    const surname = rng.pick(SURNAMES);
    // Mostly 65-95, a few younger residents with a disability.
    const age = rng.chance(0.05) ? rng.int(52, 64) : 65 + Math.floor(((rng.next() + rng.next()) / 2) * 31);
    const livesAlone = rng.chance(0.4);
    const highRisk = age >= 85 || (livesAlone && age >= 80) || rng.chance(0.08);
    const id = `r-${n}`;

    // A son or daughter first (the usual emergency contact), then other relatives, none twice.
    const relations = [rng.pick(RELATIONS.slice(0, 2))];
    const others = RELATIONS.slice(2);
    for (let more = rng.int(0, 2); more > 0; more--) {
      const rel = rng.pick(others);
      if (!relations.includes(rel)) relations.push(rel);
    }
    const family = relations.map((rel) => {
      return {
        name: personName(rng, rel.female, false, rel.sameSurname ? surname : undefined),
        relation: rel.relation,
        phone: phones.take(FAMILY_PREFIXES),
      };
    });

    devices.push({ id: `btn-${n}`, kind: 'sos_button', resident: id, secret: secret(`btn-${n}`) });
    if (rng.chance(age >= 80 ? 0.75 : 0.45))
      devices.push({ id: `fall-${n}`, kind: 'fall_sensor', resident: id, secret: secret(`fall-${n}`) });
    const motion = rng.chance(livesAlone ? 0.5 : 0.1);
    if (motion) devices.push({ id: `motion-${n}`, kind: 'motion_sensor', resident: id, secret: secret(`motion-${n}`) });
    if (rng.chance(0.08)) devices.push({ id: `cord-${n}`, kind: 'pull_cord', resident: id, secret: secret(`cord-${n}`) });

    residents.push({
      id,
      name: personName(rng, female, true, surname),
      community: c.id,
      address,
      building: `${c.name}${building}号楼`,
      location: near(buildingLocation(c, building), 0, door * 0.00008),
      ...(motion ? { inactivityHours: rng.pick([12, 12, 16, 24]) } : {}),
      ...(highRisk ? { highRisk: true } : {}),
      ...(rng.chance(0.4) ? { notes: rng.pick(HEALTH_NOTES) } : {}),
      family,
      age,
      gender: female ? 'female' : 'male',
      livesAlone,
      ...(livesAlone ? {} : { livesWith: rng.pick(LIVES_WITH) }),
    });
  }
  return { residents, devices };
}

/**
 * Two or three grid workers rotate day (08:00-20:00) and night (20:00-08:00) duty, every day of the
 * week, so every hour has someone on duty. Slot (day d, half h) goes to one worker by rotation.
 */
function demoWorkers(rng: Rng, phones: PhoneBook, c: DemoCommunity): Item<'workers'>[] {
  const k = rng.chance(0.5) ? 3 : 2;
  const workers: Item<'workers'>[] = [];
  for (let w = 0; w < k; w++) {
    const dayShift: (typeof DOC_WEEKDAYS)[number][] = [];
    const nightShift: (typeof DOC_WEEKDAYS)[number][] = [];
    DOC_WEEKDAYS.forEach((day, d) => {
      // With two workers, alternate who takes days so nobody is on nights all week.
      const dayOwner = k === 2 ? d % 2 : (2 * d) % k;
      const nightOwner = k === 2 ? (d + 1) % 2 : (2 * d + 1) % k;
      if (dayOwner === w) dayShift.push(day);
      if (nightOwner === w) nightShift.push(day);
    });
    const shifts = [
      ...(dayShift.length ? [{ days: dayShift, from: '08:00', to: '20:00' }] : []),
      ...(nightShift.length ? [{ days: nightShift, from: '20:00', to: '08:00' }] : []),
    ];
    workers.push({
      id: `w-${c.id}-${w + 1}`,
      name: personName(rng, rng.chance(0.5), false),
      phone: phones.take(WORKER_PREFIXES),
      community: c.id,
      location: near(c.center, rng.int(-4, 4) * 0.0001, rng.int(-4, 4) * 0.0001),
      post: `${c.name}社区网格工作站`,
      shifts,
    });
  }
  return workers;
}

const CRON_DOW: Record<(typeof DOC_WEEKDAYS)[number], number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 0 };

/** About one apron-team volunteer per 15 residents, each with a few weekly visits that never overlap. */
function demoVolunteers(rng: Rng, phones: PhoneBook, residents: Item<'residents'>[]) {
  const count = Math.max(2, Math.round(residents.length / 15));
  const volunteers: Item<'volunteers'>[] = [];
  const visits: Item<'visits'>[] = [];
  // Visits go first to those who live alone or are at high risk.
  const priority = residents.filter((r) => r.livesAlone === true || r.highRisk === true);
  const candidates = priority.length > 0 ? priority : residents;
  for (let v = 0; v < count; v++) {
    const id = `v-${String(v + 1).padStart(2, '0')}`;
    const surname = rng.pick(SURNAMES);
    const home = DEMO_COMMUNITIES[v % DEMO_COMMUNITIES.length];
    volunteers.push({
      id,
      name: personName(rng, rng.chance(0.85), true, surname),
      phone: phones.take(VOLUNTEER_PREFIXES),
      team: 'apron',
      ...(v === 0 || v === 10 ? { leader: true } : {}),
      ...(home ? { community: home.id } : {}),
    });
    const local = candidates.filter((r) => r.community === home?.id);
    const pool = local.length > 0 ? local : candidates;
    const busy: [number, number][] = [];
    const wanted = rng.int(2, 4);
    for (let attempt = 0, made = 0; made < wanted && attempt < 30; attempt++) {
      const act = rng.pick(VISIT_ACTIVITIES);
      const [h, m] = rng.pick(act.starts).split(':').map(Number);
      const duration = rng.pick(act.durations);
      // Apron volunteers keep Sundays for their own families.
      const days = [...new Set(Array.from({ length: rng.int(1, 2) }, () => rng.pick(DOC_WEEKDAYS.slice(0, 6))))];
      const spans = days.map((d): [number, number] => {
        const start = CRON_DOW[d] * 1440 + (h ?? 9) * 60 + (m ?? 0);
        return [start, start + duration];
      });
      if (spans.some(([s, e]) => busy.some(([bs, be]) => s < be && bs < e))) continue;
      busy.push(...spans);
      made++;
      const dow = days.map((d) => CRON_DOW[d]).sort((a, b) => a - b);
      visits.push({
        id: `vis-${String(visits.length + 1).padStart(3, '0')}`,
        volunteer: id,
        resident: rng.pick(pool).id,
        cron: `${m ?? 0} ${h ?? 9} * * ${dow.join(',')}`,
        durationMinutes: duration,
        activity: act.activity,
      });
    }
  }
  return { volunteers, visits };
}

export interface DemoButtonExample {
  deviceId: string;
  secret: string;
  residentName: string;
  address: string;
}

interface DocWithButtons {
  residents?: readonly { id: string; name: string; address: string }[];
  /** A device on a bridge has no secret: it cannot be pressed from the banner's mosquitto_pub line. */
  devices?: readonly { id: string; kind: string; resident: string; secret?: string }[];
}

/** The first resident's SOS button, for the start banner's "try it" line. */
export function demoButtonExample(doc: DocWithButtons): DemoButtonExample | null {
  for (const r of doc.residents ?? []) {
    const button = doc.devices?.find((d) => d.resident === r.id && d.kind === 'sos_button' && d.secret !== undefined);
    if (button?.secret !== undefined) return { deviceId: button.id, secret: button.secret, residentName: r.name, address: r.address };
  }
  return null;
}

export interface DemoRegistryFile {
  path: string;
  created: boolean;
  doc: ValidatedRegistry;
  /** The file's text, e.g. for registryDigest(). */
  text: string;
}

/**
 * Writes DATA_DIR/demo-registry.yaml on first start, with random device secrets so each installation
 * has its own, and reads it back on later starts (so secrets stay stable across restarts).
 */
export async function ensureDemoRegistryFile(dataDir: string, opts: Omit<DemoOptions, 'secret'> = {}): Promise<DemoRegistryFile> {
  const path = join(dataDir, DEMO_REGISTRY_FILE);
  if (await exists(path)) {
    const loaded = await loadRegistryFile(path);
    try {
      return { path: loaded.path, created: false, doc: validateRegistry(loaded.doc), text: loaded.text };
    } catch (err) {
      if (err instanceof GatewayError)
        throw new GatewayError(err.code, `registry file ${loaded.path}: ${err.message} (delete it to regenerate the demo)`, err.details, {
          cause: err,
        });
      throw err;
    }
  }
  const raw = generateDemoRegistry({ ...opts, secret: () => randomBytes(18).toString('base64url') });
  const doc = validateRegistry(raw);
  const text = toYaml(raw);
  await mkdir(dataDir, { recursive: true });
  // Write then rename, so a crash never leaves half a file that the next start would reject.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
  return { path, created: true, doc, text };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return false;
    throw err;
  }
}

/** YAML with small records on one line each, so the file reads like the contract's example. */
function toYaml(doc: RegistryDocument): string {
  const yaml = new Document(doc, { aliasDuplicateObjects: false });
  yaml.commentBefore =
    ' Demo neighbourhood, generated on first start. The device secrets are unique to this installation.\n' +
    ' Edit freely (it is re-imported at each start), or delete it to generate a new one.';
  const flat = (n: unknown): boolean => isScalar(n) || (isSeq(n) && n.items.every((i) => isScalar(i)));
  visit(yaml, {
    // Quote times and cron lines as the contract does: YAML 1.1 readers take 08:00 for a number.
    Scalar(_key, node) {
      if (typeof node.value === 'string' && (/^\d{1,2}:\d\d$/.test(node.value) || node.value.includes('*'))) node.type = 'QUOTE_DOUBLE';
    },
    Seq(_key, node) {
      if (node.items.length > 0 && node.items.every((i) => isScalar(i))) node.flow = true;
    },
    Map(_key, node) {
      if (node.items.every((pair) => flat(pair.value))) node.flow = true;
    },
  });
  return yaml.toString({ lineWidth: 0, flowCollectionPadding: false });
}
