// Registry documents: schema errors as one-line `path: problem` issues, duplicate ids, cross references, JSON/YAML parsing and files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/core/errors.js';
import { loadRegistryFile, parseRegistryText, validateRegistry, type ExistingIds } from '../../gateway/registry/load.js';
import { deriveBuilding } from '../../gateway/registry/schema.js';
import { tempDir } from '../helpers/tmp.js';

function resident(id: string, extra: Record<string, unknown> = {}) {
  return { id, name: '张桂兰', community: 'andali', address: '安达里3号楼2门401', location: { lat: 39.11, lon: 117.18 }, ...extra };
}

function baseDoc() {
  return {
    communities: [{ id: 'andali', name: '安达里社区' }],
    residents: [resident('r-001', { family: [{ name: '张伟', relation: '儿子', phone: '+8613800000001' }] })],
    workers: [
      {
        id: 'w-01',
        name: '李明',
        phone: '+8613900000001',
        community: 'andali',
        shifts: [{ days: ['mon', 'tue'], from: '08:00', to: '20:00' }],
      },
    ],
    devices: [{ id: 'btn-001', kind: 'sos_button', resident: 'r-001', secret: 's3cret-btn-001' }],
    volunteers: [{ id: 'v-01', name: '王奶奶', phone: '+8613700000001', team: 'apron' }],
    visits: [{ id: 'vis-01', volunteer: 'v-01', resident: 'r-001', cron: '0 11 * * 2,4', durationMinutes: 90, activity: '做饭' }],
  };
}

/** The issue lines of a registry error (fails the test when the call does not throw one). */
function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    if (!(err instanceof GatewayError)) throw err;
    expect(err.code).toBe('GW_ERR_REGISTRY_INVALID');
    const details = err.details;
    if (typeof details !== 'object' || details === null || !('issues' in details) || !Array.isArray(details.issues)) {
      throw new Error('error without issues');
    }
    return details.issues.map(String);
  }
  throw new Error('expected GW_ERR_REGISTRY_INVALID, but the call succeeded');
}

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err.message;
  }
  throw new Error('expected an error');
}

describe('validateRegistry: schema', () => {
  it('accepts the contract example and fills defaults', () => {
    const doc = validateRegistry(baseDoc());
    expect(doc.residents[0]?.building).toBe('安达里3号楼');
    expect(doc.communities[0]?.dutyContacts).toEqual([]);
    expect(doc.escalation).toBeUndefined();
    expect(doc.workers[0]?.shifts[0]?.days).toEqual(['mon', 'tue']);
  });

  it('names the path of a wrong type exactly as `residents[3].location.lat: expected a number`', () => {
    const doc = baseDoc();
    doc.residents.push(resident('r-002'), resident('r-003'), resident('r-004', { location: { lat: '39.11', lon: 117.18 } }));
    const issues = issuesOf(() => validateRegistry(doc));
    expect(issues).toEqual(['residents[3].location.lat: expected a number']);
    expect(messageOf(() => validateRegistry(doc))).toBe('residents[3].location.lat: expected a number');
  });

  it('reports missing, empty and malformed fields, one line each', () => {
    const doc = {
      ...baseDoc(),
      escalation: { ackTimeoutSeconds: 5, fallCancelSeconds: 30 },
      residents: [{ id: 'r-001', community: 'andali', address: '', inactivityHours: 0 }],
      workers: [
        {
          id: 'w/01',
          name: '李明',
          phone: '13900000001',
          community: 'andali',
          shifts: [{ days: ['mon', 'funday'], from: '08:00', to: '24:00' }],
        },
      ],
      devices: [{ id: 'btn-001', kind: 'lamp', resident: 'r-001', secret: 'short' }],
      visits: [{ id: 'vis-01', volunteer: 'v-01', resident: 'r-001', cron: '61 11 * * 2', durationMinutes: 1.5, activity: '做饭' }],
    };
    const issues = issuesOf(() => validateRegistry(doc));
    expect(issues).toEqual([
      'escalation.ackTimeoutSeconds: must be at least 10',
      'residents[0].name: required',
      'residents[0].address: must not be empty',
      'residents[0].inactivityHours: must be greater than 0',
      'workers[0].id: expected an id of 1-64 characters from A-Z a-z 0-9 _ . : -',
      'workers[0].phone: expected an E.164 phone number: + and 7-15 digits, e.g. "+8613800000001"',
      'workers[0].shifts[0].days[1]: expected one of mon, tue, wed, thu, fri, sat, sun',
      'workers[0].shifts[0].to: expected a local time "HH:MM" from 00:00 to 23:59',
      'devices[0].kind: expected one of sos_button, pull_cord, fall_sensor, motion_sensor, presence_sensor, door_sensor',
      'devices[0].secret: expected a secret of at least 8 characters',
      'visits[0].cron: invalid cron expression "61 11 * * 2": 61 is a invalid expression for minute',
      'visits[0].durationMinutes: expected a whole number',
    ]);
  });

  it('puts the first three issues in the message and counts the rest', () => {
    const doc = { residents: [{}, {}] };
    const message = messageOf(() => validateRegistry(doc));
    expect(message).toBe('residents[0].id: required; residents[0].name: required; residents[0].community: required (and 5 more)');
  });

  it('rejects a document that is not an object', () => {
    expect(issuesOf(() => validateRegistry(null))).toEqual(['(document): expected an object']);
    expect(issuesOf(() => validateRegistry({ residents: {} }))).toEqual(['residents: expected a list']);
  });

  it('rejects ids that cannot be MQTT client ids', () => {
    const long = 'd'.repeat(65);
    const doc = {
      ...baseDoc(),
      devices: ['btn/1', 'btn+1', 'btn#1', long, ''].map((id) => ({ id, kind: 'sos_button', resident: 'r-001', secret: 'secret-123' })),
    };
    const issues = issuesOf(() => validateRegistry(doc));
    expect(issues).toHaveLength(5);
    for (const [i, line] of issues.entries())
      expect(line).toBe(`devices[${i}].id: expected an id of 1-64 characters from A-Z a-z 0-9 _ . : -`);
    const ok = { ...baseDoc(), devices: [{ id: 'd'.repeat(64), kind: 'fall_sensor', resident: 'r-001', secret: 'secret-123' }] };
    expect(validateRegistry(ok).devices[0]?.id).toHaveLength(64);
  });

  it('keeps fields beyond the contract, at every level', () => {
    const doc = baseDoc();
    const withExtras = {
      ...doc,
      note: 'top',
      residents: [{ ...resident('r-001'), floorPlan: 'B', location: { lat: 39.1, lon: 117.2, accuracyM: 5 } }],
      devices: [{ ...doc.devices[0], model: 'XF-2' }],
    };
    const v = validateRegistry(withExtras);
    expect(v.note).toBe('top');
    expect(v.residents[0]?.floorPlan).toBe('B');
    expect(v.residents[0]?.location?.accuracyM).toBe(5);
    expect(v.devices[0]?.model).toBe('XF-2');
  });

  it('fills escalation defaults for the fields a document leaves out, and checks the ranges', () => {
    const v = validateRegistry({ escalation: { ackTimeoutSeconds: 60 } });
    expect(v.escalation).toEqual({ ackTimeoutSeconds: 60, fallCancelSeconds: 30, offlineAfterSeconds: 900 });
    expect(issuesOf(() => validateRegistry({ escalation: { fallCancelSeconds: 601, offlineAfterSeconds: 59 } }))).toEqual([
      'escalation.fallCancelSeconds: must be at most 600',
      'escalation.offlineAfterSeconds: must be at least 60',
    ]);
  });

  it('takes a document with only one list', () => {
    const v = validateRegistry({ workers: baseDoc().workers }, { communities: new Set(['andali']) });
    expect(v.workers).toHaveLength(1);
    expect(v.residents).toEqual([]);
  });

  it('normalises shift times and accepts shifts past midnight', () => {
    const doc = { ...baseDoc(), workers: [{ ...baseDoc().workers[0], shifts: [{ days: ['sun', 'mon'], from: '20:00', to: '8:00' }] }] };
    const shift = validateRegistry(doc).workers[0]?.shifts[0];
    expect(shift).toEqual({ days: ['mon', 'sun'], from: '20:00', to: '08:00' });
  });

  it('derives the building from the address unless one is given', () => {
    expect(deriveBuilding('安达里3号楼2门401')).toBe('安达里3号楼');
    expect(deriveBuilding('泰来西里5栋302')).toBe('泰来西里5栋');
    expect(deriveBuilding('北医道12号')).toBe('北医道12号');
    const doc = { ...baseDoc(), residents: [resident('r-001', { building: '安达里三号楼' })] };
    expect(validateRegistry(doc).residents[0]?.building).toBe('安达里三号楼');
  });
});

describe('validateRegistry: duplicate ids and cross references', () => {
  it('rejects duplicate ids inside one list', () => {
    const doc = baseDoc();
    doc.residents.push(resident('r-002'), resident('r-001'));
    expect(issuesOf(() => validateRegistry(doc))).toEqual(['residents[2].id: duplicate id "r-001" (first at residents[0])']);
  });

  it('allows the same id in different lists', () => {
    const doc = { ...baseDoc(), volunteers: [{ id: 'r-001', name: '王奶奶', phone: '+8613700000001' }], visits: [] };
    expect(validateRegistry(doc).volunteers[0]?.id).toBe('r-001');
  });

  it('rejects references to entities neither in the document nor stored', () => {
    const doc = baseDoc();
    doc.devices.push(
      { id: 'btn-002', kind: 'sos_button', resident: 'r-001', secret: 'secret-002' },
      { id: 'btn-003', kind: 'sos_button', resident: 'r-999', secret: 'secret-003' },
    );
    doc.residents.push(resident('r-002', { community: 'nowhere' }));
    doc.visits.push({ id: 'vis-02', volunteer: 'v-77', resident: 'r-002', cron: '0 9 * * 1', durationMinutes: 60, activity: '陪聊' });
    doc.workers.push({ id: 'w-02', name: '赵磊', phone: '+8613900000002', community: 'elsewhere', shifts: [] });
    expect(issuesOf(() => validateRegistry(doc))).toEqual([
      'residents[1].community: unknown community "nowhere"',
      'workers[1].community: unknown community "elsewhere"',
      'devices[2].resident: unknown resident "r-999"',
      'visits[1].volunteer: unknown volunteer "v-77"',
    ]);
  });

  it('accepts references to ids already stored', () => {
    const existing: ExistingIds = { communities: new Set(['andali']), residents: new Set(['r-999']), volunteers: new Set(['v-77']) };
    const doc = {
      devices: [{ id: 'btn-999', kind: 'sos_button', resident: 'r-999', secret: 'secret-999' }],
      visits: [{ id: 'vis-9', volunteer: 'v-77', resident: 'r-999', cron: '30 14 * * 3', durationMinutes: 60, activity: '理发' }],
      residents: [resident('r-100')],
    };
    expect(validateRegistry(doc, existing).devices).toHaveLength(1);
    expect(issuesOf(() => validateRegistry(doc))).toEqual([
      'residents[0].community: unknown community "andali"',
      'devices[0].resident: unknown resident "r-999"',
      'visits[0].volunteer: unknown volunteer "v-77"',
      'visits[0].resident: unknown resident "r-999"',
    ]);
  });
});

describe('parseRegistryText', () => {
  const yaml = `
escalation:
  ackTimeoutSeconds: 120
communities:
  - { id: andali, name: 安达里社区 }
residents:
  - id: r-001
    name: 张桂兰
    community: andali
    address: 安达里3号楼2门401
    location: { lat: 39.2101, lon: 117.1302 }
    family:
      - { name: 张伟, relation: 儿子, phone: "+8613800000001" }
workers:
  - id: w-01
    name: 李明
    phone: "+8613900000001"
    community: andali
    shifts:
      - { days: [mon, tue, wed, thu, fri], from: 08:00, to: "20:00" }
`;

  it('reads YAML and JSON into the same document', () => {
    const fromYaml = parseRegistryText(yaml, 'yaml');
    const fromJson = parseRegistryText(JSON.stringify(fromYaml, null, 2), 'json');
    expect(fromJson).toEqual(fromYaml);
    const v = validateRegistry(fromYaml);
    expect(v.escalation?.ackTimeoutSeconds).toBe(120);
    expect(v.workers[0]?.shifts[0]?.from).toBe('08:00');
    expect(v.residents[0]?.family[0]?.phone).toBe('+8613800000001');
  });

  it('explains an unquoted phone number in YAML', () => {
    const doc = parseRegistryText(yaml.replace('"+8613900000001"', '+8613900000001'), 'yaml');
    expect(issuesOf(() => validateRegistry(doc))).toEqual([
      'workers[0].phone: expected a string: quote phone numbers, e.g. "+8613800000001"',
    ]);
  });

  it('names the line of a YAML syntax error', () => {
    const broken = 'communities:\n  - id: andali\n    name: [安达里\nresidents: []\n';
    const issues = issuesOf(() => parseRegistryText(broken, 'yaml'));
    expect(issues[0]).toMatch(/^line \d+, column \d+: YAML syntax error: /);
    expect(messageOf(() => parseRegistryText('a: 1\n  b: 2\n', 'yaml'))).toMatch(/^line 1, column 4: YAML syntax error: Nested mappings/);
  });

  it('rejects a key written twice in YAML', () => {
    expect(messageOf(() => parseRegistryText('communities: []\ncommunities: []\n', 'yaml'))).toMatch(
      /^line 2, column 1: YAML syntax error: Map keys must be unique/,
    );
  });

  it('names the line and column of a JSON syntax error', () => {
    const text = '{\n  "communities": [\n    { "id": "andali", "name": "安达里社区", }\n  ]\n}';
    expect(issuesOf(() => parseRegistryText(text, 'json'))).toEqual([
      'line 3, column 40: JSON syntax error: unexpected "}", expected a property name in double quotes',
    ]);
    expect(messageOf(() => parseRegistryText('{"a": [1, 2', 'json'))).toBe(
      "line 1, column 12: JSON syntax error: unexpected end of input, expected ',' or ']'",
    );
  });

  it('ignores a byte order mark', () => {
    expect(parseRegistryText('\uFEFF{"communities": []}', 'json')).toEqual({ communities: [] });
  });
});

describe('loadRegistryFile', () => {
  let dir: ReturnType<typeof tempDir> | null = null;
  afterEach(() => {
    dir?.remove();
    dir = null;
  });

  it('picks the format from the extension', async () => {
    dir = tempDir('registry-load-');
    const doc = baseDoc();
    writeFileSync(join(dir.path, 'r.json'), JSON.stringify(doc));
    writeFileSync(join(dir.path, 'r.yml'), 'communities:\n  - { id: andali, name: 安达里社区 }\n');
    writeFileSync(join(dir.path, 'r.YAML'), 'communities: []\n');
    const json = await loadRegistryFile(join(dir.path, 'r.json'));
    expect(json.format).toBe('json');
    expect(json.doc).toEqual(doc);
    expect(json.text).toBe(JSON.stringify(doc));
    expect((await loadRegistryFile(join(dir.path, 'r.yml'))).doc).toEqual({ communities: [{ id: 'andali', name: '安达里社区' }] });
    expect((await loadRegistryFile(join(dir.path, 'r.YAML'))).format).toBe('yaml');
  });

  it('names the file when it does not exist, has an unknown extension or bad syntax', async () => {
    dir = tempDir('registry-load-');
    const missing = join(dir.path, 'missing.yaml');
    await expect(loadRegistryFile(missing)).rejects.toThrow(`registry file ${missing}: file does not exist`);
    await expect(loadRegistryFile(dir.path + '/')).rejects.toThrow(/unknown format/);
    const yamlDir = join(dir.path, 'dir.yaml');
    mkdirSync(yamlDir);
    await expect(loadRegistryFile(yamlDir)).rejects.toThrow(`registry file ${yamlDir}: is a directory, not a file`);
    const txt = join(dir.path, 'r.txt');
    writeFileSync(txt, '{}');
    await expect(loadRegistryFile(txt)).rejects.toThrow(`registry file ${txt}: unknown format ".txt"; use .json, .yaml or .yml`);
    const bad = join(dir.path, 'bad.json');
    writeFileSync(bad, '{\n  "communities": [\n}');
    await expect(loadRegistryFile(bad)).rejects.toThrow(`registry file ${bad}: line 3, column 1: JSON syntax error`);
  });
});
