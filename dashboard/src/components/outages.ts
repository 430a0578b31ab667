// Grouped device outages (a storm of devices offline together) on the board: the place, and every device in it.
import type { Outage } from '../../../gateway/supervision/types.js';
import { h } from '../dom.js';
import { addMessages, formatTime, t } from '../i18n.js';

addMessages({
  zh: {
    'board.outage.place': '{place}：{down}/{total} 台设备离线，自 {time}',
    'board.outage.community': '整个社区 {community}',
    'board.outage.back': '已恢复 {time}',
    'board.outage.down': '离线 {time}',
  },
  en: {
    'board.outage.place': '{place}: {down}/{total} devices offline since {time}',
    'board.outage.community': 'whole community {community}',
    'board.outage.back': 'back {time}',
    'board.outage.down': 'offline since {time}',
  },
});

export function outageList(outages: Outage[]): HTMLElement {
  return h(
    'div',
    { class: 'outage-list' },
    ...outages.map((o) => {
      const down = o.devices.filter((d) => d.backAt === null).length;
      const place = o.place.building ?? t('board.outage.community', { community: o.place.communityId });
      return h(
        'details',
        { class: 'outage', 'data-outage': o.id, open: true },
        h('summary', {}, t('board.outage.place', { place, down, total: o.devices.length, time: formatTime(o.openedAt) })),
        h(
          'ul',
          { class: 'outage-devices' },
          ...o.devices.map((d) =>
            h(
              'li',
              { 'data-device': d.deviceId, class: d.backAt === null ? 'down' : 'back' },
              `${d.deviceId} · ${d.residentId} · `,
              d.backAt === null
                ? t('board.outage.down', { time: formatTime(d.droppedAt) })
                : t('board.outage.back', { time: formatTime(d.backAt) }),
            ),
          ),
        ),
      );
    }),
  );
}
