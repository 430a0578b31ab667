// The simulators' small parts: durations and rates, the daily rhythm and battery thresholds, the seeded random source, "who" names, and scenario registries.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { validateRegistry } from '../../gateway/registry/load.js';
import { formatDuration, parseDuration, parseRate } from '../../simulators/common/duration.js';
import { Random } from '../../simulators/common/random.js';
import { SimRegistry } from '../../simulators/common/registry.js';
import { SimulatedDay, crossedLowLevel, motionShare } from '../../simulators/fleet/rhythm.js';
import { parseScenario } from '../../simulators/scenarios/parse.js';
import { generatedRegistry, prepareRegistry } from '../../simulators/scenarios/registry-prep.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('durations and rates', () => {
  it('reads the forms scenario files and flags use, and refuses others with the text', () => {
    expect([
      parseDuration('500ms'),
      parseDuration('10s'),
      parseDuration('1.5s'),
      parseDuration('2m'),
      parseDuration('1h'),
      parseDuration(3),
      parseDuration('0'),
    ]).toEqual([500, 10_000, 1500, 120_000, 3_600_000, 3000, 0]);
    expect(() => parseDuration('soon')).toThrow('got "soon"');
    expect(() => parseDuration(-1)).toThrow('0 or more');
    expect([parseRate('2/min'), parseRate('0.5/s'), parseRate('36/h'), parseRate('3')]).toEqual([2 / 60, 0.5, 0.01, 3]);
    expect(() => parseRate('2/day')).toThrow('got "2/day"');
    expect([formatDuration(250), formatDuration(1500), formatDuration(12_000), formatDuration(150_000)]).toEqual([
      '250ms',
      '1.5s',
      '12s',
      '2m30s',
    ]);
  });
});

describe('daily rhythm and battery', () => {
  it('is quiet at night and busy in the morning, continuous across midnight', () => {
    expect(motionShare(3)).toBeLessThan(0.1);
    expect(motionShare(8)).toBe(1);
    expect(motionShare(7.5)).toBeCloseTo(0.95);
    expect(motionShare(23.99)).toBeCloseTo(motionShare(0), 2);
    expect(motionShare(-1)).toBe(motionShare(23));
  });

  it('a simulated day can run faster than real time', () => {
    const day = new SimulatedDay({ realStart: 0, speed: 1440, timeZone: 'Asia/Shanghai', startHour: 6 });
    expect(day.hourAt(0)).toBe(6);
    expect(day.hourAt(30_000)).toBe(18);
    expect(day.hourAt(60_000)).toBe(6);
    // Without a start hour it starts at the local time in the zone: 00:00 UTC is 08:00 in Shanghai.
    expect(new SimulatedDay({ realStart: Date.UTC(2026, 0, 1), speed: 1, timeZone: 'Asia/Shanghai' }).hourAt(Date.UTC(2026, 0, 1))).toBe(8);
  });

  it('reports each low-battery threshold once, the lowest one crossed', () => {
    expect(crossedLowLevel(21, 20)).toBe(20);
    expect(crossedLowLevel(20, 19)).toBeNull();
    expect(crossedLowLevel(12, 4)).toBe(5);
    expect(crossedLowLevel(50, 49)).toBeNull();
  });

  it('the random source repeats with its seed', () => {
    const a = new Random(42);
    const b = new Random(42);
    const seq = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(seq);
    const r = new Random(1);
    const mean = Array.from({ length: 2000 }, () => r.poisson(0.5)).reduce((s, n) => s + n, 0) / 2000;
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
  });
});

describe('registries the simulators use', () => {
  const dirs: { remove: () => void }[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove();
  });

  it('names phones by role and id, a role with *, a number, or any', async () => {
    const reg = await SimRegistry.load(join(ROOT, 'test/fixtures/registry.yaml'));
    expect(reg.resolve('worker w-02')).toEqual(['+8613900000002']);
    expect(reg.resolve('family r-001')).toEqual(['+8613800000001', '+8613800000002']);
    expect(reg.resolve('duty andali')).toEqual(['+8618200000001']);
    expect(reg.resolve('worker *')).toHaveLength(4);
    expect(reg.resolve('+8612345678')).toEqual(['+8612345678']);
    expect(reg.resolve('any')).toHaveLength(8);
    expect(() => reg.resolve('boss w-01')).toThrow('"boss w-01" names nobody');
    expect(() => reg.resolve('family r-002')).toThrow('the registry has no family phone for "r-002"');
    expect(reg.label('+8613900000001')).toBe('worker w-01 李明');
    expect(reg.device('fall-001')).toMatchObject({ kind: 'fall_sensor', building: '安达里3号楼', secret: 's3cret-fall-001' });
  });

  it('a scenario registry is a copy with the escalation and patches applied, "*" reaching every item', async () => {
    const dir = tempDir('care-gw-prep-');
    dirs.push(dir);
    const scenario = parseScenario(
      'escalation: { ackTimeoutSeconds: 10 }\npatch: { "workers.*.shifts": [], "residents.1.name": 新名 }\nsteps: [{ at: 0s, device: btn-001, event: sos }]\nexpect: [{ healthy: true }]\n',
      'x.yaml',
    );
    const file = await prepareRegistry(scenario, dir.path, ROOT);
    const doc = validateRegistry(parse(readFileSync(file, 'utf8')));
    expect(doc.escalation).toMatchObject({ ackTimeoutSeconds: 10, fallCancelSeconds: 30 });
    expect(doc.workers.map((w) => w.shifts)).toEqual([[], [], [], []]);
    expect(doc.residents[1]?.name).toBe('新名');
    expect(doc.devices).toHaveLength(3);
  });

  it('a generated registry is valid: one button and one family phone per resident, spread over the buildings', () => {
    const doc = validateRegistry(generatedRegistry(500, 25));
    expect(doc.residents).toHaveLength(500);
    expect(new Set(doc.devices.map((d) => d.id)).size).toBe(500);
    expect(new Set(doc.residents.map((r) => r.building)).size).toBe(25);
    expect(new Set(doc.residents.flatMap((r) => r.family.map((f) => f.phone))).size).toBe(500);
  });
});
