// Reads the approved templates the Aliyun/Tencent simulators enforce: a registry's `sms.templates`, or a catalogue file.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';

const entrySchema = z.object({
  text: z.string().min(1),
  label: z.string().min(1).optional(),
  aliyun: z.object({ templateCode: z.string().min(1), signName: z.string().min(1).optional() }).optional(),
  tencent: z.object({ templateId: z.string().min(1), params: z.array(z.string().min(1)) }).optional(),
});
const catalogueSchema = z.record(z.string(), entrySchema);

/** A YAML or JSON file holding a registry (with `sms.templates`) or the catalogue itself; errors name the file and entry. */
export function loadCatalogue(path: string | null, flag: string): TemplateCatalogue {
  if (!path) throw new Error(`${flag}: the approved templates are needed (a registry with sms.templates, or a catalogue file)`);
  const doc: unknown = parse(readFileSync(path, 'utf8'));
  const sms: unknown = typeof doc === 'object' && doc !== null ? Reflect.get(doc, 'sms') : undefined;
  const templates: unknown = typeof sms === 'object' && sms !== null ? Reflect.get(sms, 'templates') : doc;
  const parsed = catalogueSchema.safeParse(templates);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue?.path.join('.') || '(document)'}: ${issue?.message ?? 'not a template catalogue'}`);
  }
  const catalogue: TemplateCatalogue = {};
  for (const [kind, e] of Object.entries(parsed.data)) {
    catalogue[kind] = {
      text: e.text,
      ...(e.label ? { label: e.label } : {}),
      ...(e.aliyun
        ? { aliyun: { templateCode: e.aliyun.templateCode, ...(e.aliyun.signName ? { signName: e.aliyun.signName } : {}) } }
        : {}),
      ...(e.tencent ? { tencent: e.tencent } : {}),
    };
  }
  return catalogue;
}
