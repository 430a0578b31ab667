// The demo neighbourhood: deterministic per seed, valid, realistic, around-the-clock duty cover, and one file per installation.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_REGISTRY_FILE, demoButtonExample, ensureDemoRegistryFile, generateDemoRegistry } from '../../gateway/registry/demo.js';
import { validateRegistry } from '../../gateway/registry/load.js';
import { DOC_WEEKDAYS, ID_PATTERN, type ValidatedRegistry } from '../../gateway/registry/schema.js';
import { tempDir } from '../helpers/tmp.js';

type DocWorker = ValidatedRegistry['workers'][number];
type DocShift = DocWorker['shifts'][number];

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Whether the shift covers minute `t` of weekday index `day` (0 = mon); a shift with to <= from ends the next day. */
function covers(shift: DocShift, day: number, t: number): boolean {
  const from = minutes(shift.from);
  const to = minutes(shift.to);
  const on = (d: number): boolean => shift.days.includes(DOC_WEEKDAYS[(d + 7) % 7] ?? 'mon');
  if (from < to) return on(day) && t >= from && t < to;
  return (on(day) && t >= from) || (on(day - 1) && t < to);
}

/** Hours of the week (as "mon 03:00") in which none of the workers is on duty. */
function uncoveredHours(workers: DocWorker[]): string[] {
  const gaps: string[] = [];
  for (let day = 0; day < 7; day++) {
    for (let h = 0; h < 24; h++) {
      // Check both ends of the hour, so a shift ending at hh:30 leaves a visible gap.
      const ok = [h * 60, h * 60 + 59].every((t) => workers.some((w) => w.shifts.some((s) => covers(s, day, t))));
      if (!ok) gaps.push(`${DOC_WEEKDAYS[day]} ${String(h).padStart(2, '0')}:00`);
    }
  }
  return gaps;
}

/** Minute-of-week spans [start, end) of a "M H * * d,d" visit cron (0 = Sunday, as in cron). */
function visitSpans(cron: string, durationMinutes: number): [number, number][] {
  const [m, h, dom, mon, dow] = cron.split(' ');
  expect(dom).toBe('*');
  expect(mon).toBe('*');
  return (dow ?? '').split(',').map((d) => {
    const start = Number(d) * 1440 + Number(h) * 60 + Number(m);
    return [start, start + durationMinutes];
  });
}

function overlaps(spans: [number, number][]): boolean {
  const week = 7 * 1440;
  // Compare each span also shifted by a week, so a Saturday-night visit would clash with Sunday morning.
  const all = spans.flatMap(([s, e]): [number, number][] => [
    [s, e],
    [s + week, e + week],
  ]);
  return spans.some(([s, e], i) => all.some(([s2, e2], j) => Math.floor(j / 2) !== i && s < e2 && s2 < e));
}

describe('generateDemoRegistry', () => {
  const doc = validateRegistry(generateDemoRegistry());

  it('is deterministic for a seed, and differs between seeds', () => {
    expect(generateDemoRegistry({ seed: 42, residents: 40 })).toEqual(generateDemoRegistry({ seed: 42, residents: 40 }));
    expect(generateDemoRegistry({ seed: 42, residents: 40 })).not.toEqual(generateDemoRegistry({ seed: 43, residents: 40 }));
    expect(generateDemoRegistry()).toEqual(generateDemoRegistry());
  });

  it('models nine old communities of Tianjin', () => {
    expect(doc.communities).toHaveLength(9);
    const names = doc.communities.map((c) => c.name).join(' ');
    for (const n of ['安达里', '拜泉里', '发电楼', '北医道', '泰来西里', '红云新里', '虎林里']) expect(names).toContain(n);
    for (const c of doc.communities) {
      expect(c.location?.lat).toBeGreaterThanOrEqual(39.09);
      expect(c.location?.lat).toBeLessThanOrEqual(39.13);
      expect(c.location?.lon).toBeGreaterThanOrEqual(117.17);
      expect(c.location?.lon).toBeLessThanOrEqual(117.22);
      expect(c.dutyContacts.length).toBeGreaterThanOrEqual(1);
    }
  });

  it('has about 300 older residents, 40% living alone, each at a distinct flat with a button', () => {
    expect(doc.residents).toHaveLength(300);
    expect(validateRegistry(generateDemoRegistry({ residents: 50 })).residents).toHaveLength(50);
    const alone = doc.residents.filter((r) => r.livesAlone === true).length / doc.residents.length;
    expect(alone).toBeGreaterThan(0.3);
    expect(alone).toBeLessThan(0.5);
    const ages = doc.residents.map((r) => Number(r.age));
    expect(ages.filter((a) => a >= 65).length / ages.length).toBeGreaterThan(0.9);
    expect(new Set(doc.residents.map((r) => r.address)).size).toBe(300);
    const byCommunity = new Map(doc.communities.map((c) => [c.id, c.name.replace(/社区$/, '')]));
    for (const r of doc.residents) {
      const community = byCommunity.get(r.community) ?? '?';
      expect(r.address).toMatch(new RegExp(`^${community}\\d+号楼[1-4]门[1-6]0[12]$`));
      expect(r.address.startsWith(r.building)).toBe(true);
      expect(r.family.length).toBeGreaterThanOrEqual(1);
      expect(r.family.length).toBeLessThanOrEqual(3);
      expect(r.location?.lat).toBeGreaterThan(39.09);
      expect(r.location?.lon).toBeLessThan(117.22);
      expect(doc.devices.some((d) => d.resident === r.id && d.kind === 'sos_button')).toBe(true);
    }
  });

  it('gives many residents a fall sensor, and sets inactivity hours wherever there is a motion sensor', () => {
    const kinds = (kind: string) => doc.devices.filter((d) => d.kind === kind);
    expect(kinds('fall_sensor').length).toBeGreaterThan(100);
    expect(kinds('motion_sensor').length).toBeGreaterThan(20);
    for (const d of kinds('motion_sensor')) {
      expect(doc.residents.find((r) => r.id === d.resident)?.inactivityHours).toBeGreaterThan(0);
    }
    for (const d of doc.devices) {
      expect(d.id).toMatch(ID_PATTERN);
      expect(d.id).not.toMatch(/[/+#]/);
      if (d.bridge === undefined) expect(d.secret?.length).toBeGreaterThanOrEqual(8);
      else expect(d.secret).toBeUndefined();
    }
  });

  it('has 2-3 grid workers per community who together cover every hour of the week', () => {
    for (const c of doc.communities) {
      const workers = doc.workers.filter((w) => w.community === c.id);
      expect(workers.length).toBeGreaterThanOrEqual(2);
      expect(workers.length).toBeLessThanOrEqual(3);
      expect(uncoveredHours(workers)).toEqual([]);
      for (const w of workers) {
        expect(Math.abs((w.location?.lat ?? 0) - (c.location?.lat ?? 0))).toBeLessThan(0.002);
        expect(Math.abs((w.location?.lon ?? 0) - (c.location?.lon ?? 0))).toBeLessThan(0.002);
      }
    }
  });

  it('finds gaps in duty cover (the coverage check itself)', () => {
    const day = (days: DocShift['days']): DocWorker => ({
      id: 'w',
      name: 'n',
      phone: '+8613900000001',
      community: 'c',
      shifts: [{ days, from: '08:00', to: '20:00' }],
    });
    const night: DocWorker = {
      ...day([]),
      shifts: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '20:00', to: '08:00' }],
    };
    expect(uncoveredHours([day(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']), night])).toEqual([]);
    expect(uncoveredHours([day(['mon', 'tue', 'wed', 'thu', 'fri', 'sat']), night])).toHaveLength(12);
    const nightFromTue: DocWorker = {
      ...night,
      shifts: [{ days: ['tue', 'wed', 'thu', 'fri', 'sat', 'sun'], from: '20:00', to: '08:00' }],
    };
    expect(uncoveredHours([day(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']), nightFromTue])).toContain('tue 03:00');
  });

  it('gives every person a distinct phone number', () => {
    const phones = [
      ...doc.residents.flatMap((r) => r.family.map((f) => f.phone)),
      ...doc.workers.map((w) => w.phone),
      ...doc.volunteers.map((v) => v.phone),
      ...doc.communities.flatMap((c) => c.dutyContacts.map((d) => d.phone)),
    ];
    expect(phones.length).toBeGreaterThan(300);
    expect(new Set(phones).size).toBe(phones.length);
    for (const p of doc.residents.flatMap((r) => r.family.map((f) => f.phone))) expect(p).toMatch(/^\+861[3-9]\d{9}$/);
  });

  it('has about 20 apron-team volunteers whose weekly visits never overlap', () => {
    expect(doc.volunteers.length).toBeGreaterThanOrEqual(18);
    expect(doc.volunteers.length).toBeLessThanOrEqual(22);
    expect(doc.volunteers.every((v) => v.team === 'apron')).toBe(true);
    const leaders = doc.volunteers.filter((v) => v.leader === true).length;
    expect(leaders).toBeGreaterThanOrEqual(1);
    expect(leaders).toBeLessThanOrEqual(2);
    expect(doc.visits.length).toBeGreaterThanOrEqual(doc.volunteers.length);
    for (const v of doc.volunteers) {
      const visits = doc.visits.filter((x) => x.volunteer === v.id);
      expect(visits.length).toBeGreaterThanOrEqual(1);
      for (const x of visits) {
        expect(x.durationMinutes).toBeGreaterThanOrEqual(60);
        expect(x.durationMinutes).toBeLessThanOrEqual(120);
        expect(['做饭', '陪聊', '送餐', '理发', '打扫卫生', '读报']).toContain(x.activity);
      }
      expect(overlaps(visits.flatMap((x) => visitSpans(x.cron, x.durationMinutes)))).toBe(false);
    }
    expect(overlaps([...visitSpans('0 10 * * 2', 90), ...visitSpans('0 11 * * 2,4', 60)])).toBe(true);
    expect(overlaps([...visitSpans('0 10 * * 2', 60), ...visitSpans('0 11 * * 2', 60)])).toBe(false);
  });

  it("names the first resident's button for the start banner", () => {
    const raw = generateDemoRegistry({ seed: 5, residents: 10 });
    const first = raw.residents?.[0];
    const button = raw.devices?.find((d) => d.resident === first?.id && d.kind === 'sos_button');
    expect(demoButtonExample(raw)).toEqual({
      deviceId: button?.id,
      secret: button?.secret,
      residentName: first?.name,
      address: first?.address,
    });
    expect(demoButtonExample({ residents: [], devices: [] })).toBeNull();
  });
});

describe('ensureDemoRegistryFile', () => {
  const dirs: ReturnType<typeof tempDir>[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });
  const newDir = () => {
    const d = tempDir('registry-demo-');
    dirs.push(d);
    return join(d.path, 'data');
  };

  it('writes the file once, with secrets of its own, and reuses it afterwards', async () => {
    const dataDir = newDir();
    const first = await ensureDemoRegistryFile(dataDir);
    expect(first.created).toBe(true);
    expect(first.path).toBe(join(dataDir, DEMO_REGISTRY_FILE));
    expect(first.doc.residents).toHaveLength(300);
    expect(readFileSync(first.path, 'utf8')).toBe(first.text);
    expect(statSync(first.path).mode & 0o077).toBe(0);

    const again = await ensureDemoRegistryFile(dataDir);
    expect(again.created).toBe(false);
    expect(again.doc).toEqual(first.doc);
    expect(again.text).toBe(first.text);

    // Everything but the secrets is the seeded neighbourhood; the secrets are random per installation.
    const seeded = validateRegistry(generateDemoRegistry());
    expect(first.doc.residents).toEqual(seeded.residents);
    expect(first.doc.devices.map((d) => d.id)).toEqual(seeded.devices.map((d) => d.id));
    const other = await ensureDemoRegistryFile(newDir());
    // Devices on a bridge have no secret; the bridges' own secrets are random per installation too.
    const direct = first.doc.devices.filter((d) => d.bridge === undefined);
    for (const [i, d] of first.doc.devices.entries()) {
      if (d.bridge !== undefined) continue;
      expect(d.secret).not.toBe(seeded.devices[i]?.secret);
      expect(d.secret).not.toBe(other.doc.devices[i]?.secret);
    }
    expect(new Set(direct.map((d) => d.secret)).size).toBe(direct.length);
    expect(first.doc.bridges.map((b) => b.kind)).toEqual(['zigbee2mqtt', 'chirpstack', 'http']);
    const secretOf = (b: (typeof first.doc.bridges)[number] | undefined) => (b && 'secret' in b ? b.secret : undefined);
    expect(secretOf(first.doc.bridges[0])).toBeDefined();
    expect(secretOf(first.doc.bridges[0])).not.toBe(secretOf(seeded.bridges[0]));
  });

  it('names the file when a hand-edited copy is broken', async () => {
    const dataDir = newDir();
    const { path } = await ensureDemoRegistryFile(dataDir);
    writeFileSync(path, readFileSync(path, 'utf8').replace('kind: sos_button', 'kind: panic_button'));
    await expect(ensureDemoRegistryFile(dataDir)).rejects.toThrow(`registry file ${path}: devices[0].kind: expected one of`);
  });
});
