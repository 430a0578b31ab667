// The template catalogue as the text to submit for approval: Aliyun's `${name}` form, Tencent's `{1}` form, or the docs table of both.
import type { TemplateCatalogue } from '../../gateway/notifiers/intent.js';
import { positionalText } from './domestic-base.js';

export type SheetFormat = 'aliyun' | 'tencent' | 'table';

/** A verification code is its own template type at both providers; every other kind is a notification. */
function templateType(kind: string): string {
  return kind === 'sign_in_code' ? '验证码 (verification code)' : '通知短信 (notification)';
}

/**
 * One line per template the provider needs, tab-separated (kind, template type, text to submit, the id it has in the
 * catalogue now), ready to paste into an application; or the markdown table of docs/providers.md.
 */
export function templateSheet(catalogue: TemplateCatalogue, format: SheetFormat): string {
  const entries = Object.entries(catalogue);
  if (format === 'table') {
    const rows = entries.map(([kind, e]) => {
      const label = e.label ? `【${e.label}】` : '';
      const code = e.aliyun ? `\`${e.aliyun.templateCode}\`` : '—';
      const id = e.tencent ? `\`${e.tencent.templateId}\`` : '—';
      return `| \`${kind}\` | ${label} | ${code} | ${id} | ${e.text} |`;
    });
    return ['| kind | label (free text) | Aliyun demo code | Tencent demo id | text |', '|---|---|---|---|---|', ...rows].join('\n');
  }
  const lines = [
    `# kind\ttype\ttemplate text to submit (${format === 'aliyun' ? 'Aliyun, ${name} variables' : 'Tencent, {1}, {2}, … in order'})\tid in the catalogue now`,
  ];
  for (const [kind, e] of entries) {
    if (format === 'aliyun' && e.aliyun) lines.push(`${kind}\t${templateType(kind)}\t${e.text}\t${e.aliyun.templateCode}`);
    if (format === 'tencent' && e.tencent)
      lines.push(`${kind}\t${templateType(kind)}\t${positionalText(e.text, e.tencent.params)}\t${e.tencent.templateId}`);
  }
  return lines.join('\n');
}
