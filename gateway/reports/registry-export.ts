// The current registry as a document the editor can change and import again: YAML or JSON, never a device secret.
import { stringify } from 'yaml';
import type { RegistryRepo } from '../storage/ports.js';

export type ExportFormat = 'yaml' | 'json';

export interface RegistryExport {
  format: ExportFormat;
  text: string;
  /** Devices are listed apart: only their secret hash is stored, and a device without its secret does not validate. */
  devices: { id: string; kind: string; resident: string }[];
  /** One-off visits (`at`) live in the visits API: the registry document only takes recurring ones. */
  oneOffVisits: number;
}

type ExportRepo = Pick<
  RegistryRepo,
  | 'escalationSettings'
  | 'getSetting'
  | 'listCommunities'
  | 'listResidents'
  | 'listWorkers'
  | 'listDevices'
  | 'listVolunteers'
  | 'listVisits'
>;

export async function exportRegistry(registry: ExportRepo, format: ExportFormat): Promise<RegistryExport> {
  const [escalation, digest, communities, residents, workers, devices, volunteers, visits] = await Promise.all([
    registry.escalationSettings(),
    registry.getSetting('care_digest'),
    registry.listCommunities(),
    registry.listResidents(),
    registry.listWorkers(),
    registry.listDevices(),
    registry.listVolunteers(),
    registry.listVisits(),
  ]);
  const recurring = visits.filter((v) => typeof v.cron === 'string');
  const doc = {
    escalation,
    ...(digest ? { careDigest: parseDigest(digest) } : {}),
    communities,
    residents,
    workers,
    volunteers,
    visits: recurring,
  };
  const deviceList = devices.map((d) => ({ id: d.id, kind: d.kind, resident: d.resident }));
  const text = format === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : yamlWithNotes(doc, deviceList);
  return { format, text, devices: deviceList, oneOffVisits: visits.length - recurring.length };
}

function yamlWithNotes(doc: object, devices: RegistryExport['devices']): string {
  const head = [
    '# Registry exported by the care gateway. Edit and import it again: every list is upserted by id;',
    '# entities left out are kept as they are (nothing is deleted by an import).',
    '# Device secrets are not exported. To add a device or change its secret, add a `devices:` list with',
    '#   - { id: btn-009, kind: sos_button, resident: r-001, secret: "at-least-8-chars" }',
  ];
  const tail =
    devices.length > 0
      ? ['', `# Registered devices (${devices.length}), for reference:`, ...devices.map((d) => `#   ${d.id}  ${d.kind}  ${d.resident}`)]
      : [];
  return `${head.join('\n')}\n${stringify(doc, { lineWidth: 0 })}${tail.length ? `${tail.join('\n')}\n` : ''}`;
}

function parseDigest(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}
