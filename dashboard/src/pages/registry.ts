// `#/registry` (admin): edit the registry document (YAML or JSON) and import it with the registry file's validation; errors beside the editor.
import type { RegistryExport } from '../../../gateway/reports/registry-export.js';
import { api, ApiError, query } from '../api.js';
import { h, replace } from '../dom.js';
import { addMessages, t } from '../i18n.js';
import { definePage } from '../router.js';
import { failure, select } from './kit.js';
import './pages.css';

addMessages({
  zh: {
    'registry.title': '登记信息',
    'registry.format': '格式',
    'registry.reload': '重新载入',
    'registry.import': '校验并导入',
    'registry.hint': '按编号更新：文档中列出的条目被新增或更新，未列出的保持不变。设备密钥不会导出；新增设备请写上 secret。',
    'registry.ok':
      '已导入：{communities} 个社区、{residents} 位居民、{workers} 名网格员、{devices} 台设备、{volunteers} 名志愿者、{visits} 项探访。',
    'registry.errors': '未导入，共 {n} 处错误（没有任何改动）：',
    'registry.devices': '已登记的设备（{n}）',
    'registry.oneOff': '另有 {n} 项一次性探访由探访接口管理，未包含在文档中。',
  },
  en: {
    'registry.title': 'Registry',
    'registry.format': 'Format',
    'registry.reload': 'Reload',
    'registry.import': 'Validate and import',
    'registry.hint':
      'Upsert by id: listed entries are added or updated, others stay as they are. Device secrets are not exported; add `secret` for a new device.',
    'registry.ok':
      'Imported: now {communities} communities, {residents} residents, {workers} workers, {devices} devices, {volunteers} volunteers, {visits} visits.',
    'registry.errors': 'Not imported, {n} problems (nothing was changed):',
    'registry.devices': 'Registered devices ({n})',
    'registry.oneOff': '{n} one-off visits are managed through the visits API and are not in the document.',
  },
});

interface Counts {
  communities: number;
  residents: number;
  workers: number;
  devices: number;
  volunteers: number;
  visits: number;
}

definePage({
  path: 'registry',
  title: 'registry.title',
  roles: ['admin'],
  nav: true,
  order: 80,
  render: async (el) => {
    let format: 'yaml' | 'json' = 'yaml';
    const editor = h('textarea', { spellcheck: false, 'aria-label': t('registry.title'), 'data-testid': 'registry-editor' });
    const result = h('div', { role: 'status', 'aria-live': 'polite', 'data-testid': 'registry-result' });
    const deviceList = h('div', { class: 'small muted' });
    const importButton = h('button', { type: 'button', 'data-testid': 'registry-import' }, t('registry.import'));
    replace(
      el,
      h(
        'div',
        { class: 'toolbar' },
        h('h1', {}, t('registry.title')),
        select(
          [
            { value: 'yaml', label: 'YAML' },
            { value: 'json', label: 'JSON' },
          ],
          format,
          (v) => {
            format = v === 'json' ? 'json' : 'yaml';
            void loadDocument();
          },
          t('registry.format'),
        ),
        h('button', { type: 'button', class: 'secondary', onclick: () => void loadDocument() }, t('registry.reload')),
        importButton,
      ),
      h('p', { class: 'muted' }, t('registry.hint')),
      h('div', { class: 'registry' }, editor, h('aside', {}, result, deviceList)),
    );

    async function loadDocument(): Promise<void> {
      try {
        const doc = await api.get<RegistryExport>(`/api/registry${query({ format })}`);
        editor.value = doc.text;
        replace(
          deviceList,
          h('h2', {}, t('registry.devices', { n: doc.devices.length })),
          h('ul', {}, ...doc.devices.map((d) => h('li', {}, `${d.id} · ${d.kind} · ${d.resident}`))),
          doc.oneOffVisits ? h('p', {}, t('registry.oneOff', { n: doc.oneOffVisits })) : null,
        );
      } catch (err) {
        replace(result, failure(err));
      }
    }

    importButton.addEventListener('click', () => {
      importButton.disabled = true;
      void api
        .post<{ counts: Counts }>('/api/registry', { format, text: editor.value })
        .then(
          ({ counts }) => replace(result, h('p', { class: 'notice', 'data-testid': 'registry-ok' }, t('registry.ok', { ...counts }))),
          (err: unknown) => {
            const issues = err instanceof ApiError ? issuesOf(err) : [];
            if (issues.length === 0) return replace(result, failure(err));
            replace(
              result,
              h(
                'div',
                { class: 'notice error' },
                t('registry.errors', { n: issues.length }),
                h('ul', { class: 'issues', 'data-testid': 'registry-issues' }, ...issues.map((i) => h('li', {}, i))),
              ),
            );
          },
        )
        .finally(() => {
          importButton.disabled = false;
        });
    });

    await loadDocument();
  },
});

/** The import route puts every problem on its own line of the message (`path: problem`). */
function issuesOf(err: ApiError): string[] {
  return err.code === 'GW_ERR_REGISTRY_INVALID' ? err.message.split('\n').filter((line) => line.length > 0) : [];
}
