// The registry a scenario runs with: a temporary copy of a file with its escalation and patches applied, or a generated neighbourhood of N residents.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { Document, isSeq, parseDocument } from 'yaml';
import type { RegistryDocument } from '../../gateway/registry/schema.js';
import type { Scenario } from './schema.js';

/** Writes the scenario's registry into `dir` and returns its path; relative registry paths are read from `root`. */
export async function prepareRegistry(scenario: Scenario, dir: string, root: string): Promise<string> {
  const doc =
    scenario.registry.kind === 'file'
      ? parseDocument(
          await readFile(isAbsolute(scenario.registry.path) ? scenario.registry.path : resolve(root, scenario.registry.path), 'utf8'),
        )
      : new Document(generatedRegistry(scenario.registry.residents, scenario.registry.buildings));
  if (doc.errors.length > 0) throw new Error(`registry ${describe(scenario)}: ${doc.errors[0]?.message ?? 'YAML syntax error'}`);
  for (const [key, value] of Object.entries(scenario.escalation)) doc.setIn(['escalation', key], value);
  for (const [path, value] of scenario.patch) {
    for (const concrete of expand(doc, path)) doc.setIn(concrete, value);
  }
  const file = join(dir, 'registry.yaml');
  await writeFile(file, doc.toString({ lineWidth: 0 }));
  return file;
}

function describe(scenario: Scenario): string {
  return scenario.registry.kind === 'file' ? scenario.registry.path : `generated (${scenario.registry.residents} residents)`;
}

/** Every concrete path of a patch path: a "*" segment stands for each index of the list there. */
function expand(doc: Document, path: (string | number)[]): (string | number)[][] {
  const star = path.indexOf('*');
  if (star < 0) return [path];
  const list = doc.getIn(path.slice(0, star), true);
  if (!isSeq(list)) throw new Error(`patch "${path.join('.')}": ${path.slice(0, star).join('.') || '(document)'} is not a list`);
  return list.items.flatMap((_, i) => expand(doc, [...path.slice(0, star), i, ...path.slice(star + 1)]));
}

const WEEK = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const ORIGIN = { lat: 39.21, lon: 117.13 };

/** The phone of generated resident i's family member: a unique number per resident. */
export function generatedFamilyPhone(i: number): string {
  return `+86137${String(i).padStart(8, '0')}`;
}

/**
 * A neighbourhood for load scenarios: `residents` residents spread over `buildings` buildings, each with an SOS
 * button (`btn-00001`…) and one family member; four workers on duty around the clock; one duty phone.
 */
export function generatedRegistry(residents: number, buildings: number): RegistryDocument {
  const pad = (n: number): string => String(n).padStart(5, '0');
  const people: NonNullable<RegistryDocument['residents']> = [];
  const devices: NonNullable<RegistryDocument['devices']> = [];
  for (let i = 1; i <= residents; i++) {
    const b = 1 + ((i - 1) % buildings);
    people.push({
      id: `r-${pad(i)}`,
      name: `居民${pad(i)}`,
      community: 'sim',
      address: `模拟里${b}号楼${1 + (i % 4)}门${101 + (i % 600)}`,
      location: { lat: ORIGIN.lat + (b % 20) * 0.0005, lon: ORIGIN.lon + Math.floor(b / 20) * 0.0005 },
      family: [{ name: `家属${pad(i)}`, relation: '子女', phone: generatedFamilyPhone(i) }],
    });
    devices.push({ id: `btn-${pad(i)}`, kind: 'sos_button', resident: `r-${pad(i)}`, secret: randomBytes(12).toString('hex') });
  }
  return {
    escalation: { ackTimeoutSeconds: 600, fallCancelSeconds: 30, offlineAfterSeconds: 900 },
    communities: [{ id: 'sim', name: '模拟社区', dutyContacts: [{ name: '模拟值班室', phone: '+8618200009999' }] }],
    residents: people,
    workers: [1, 2, 3, 4].map((w) => ({
      id: `w-${String(w).padStart(2, '0')}`,
      name: `网格员${w}`,
      phone: `+861390000${String(w).padStart(4, '0')}`,
      community: 'sim',
      location: { lat: ORIGIN.lat + (w % 2) * 0.01, lon: ORIGIN.lon + Math.floor(w / 2) * 0.01 },
      shifts: [{ days: [...WEEK], from: '00:00', to: '00:00' }],
    })),
    devices,
  };
}
