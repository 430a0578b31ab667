// Supervision SMS texts in short, plain Chinese: the care-task digest, the grouped-outage page and its all-clear.
import type { CareTaskKind, DeviceKind, MessageIntent } from '../core/types.js';
import { demoText } from '../notifiers/catalogue.js';
import { intentOf } from '../notifiers/kinds.js';
import { smsLength } from '../paging/messages.js';

/** A digest stays within two UCS-2 segments of a concatenated SMS (2 x 67 characters). */
export const DIGEST_MAX_LENGTH = 134;
/** At most this many tasks are named; the count says how many there are in all. */
export const DIGEST_MAX_ITEMS = 3;

const DEVICE_ZH: Record<DeviceKind, string> = {
  sos_button: '求助按钮',
  pull_cord: '拉绳',
  fall_sensor: '跌倒感应器',
  motion_sensor: '人体感应器',
  presence_sensor: '在位感应器',
  door_sensor: '门磁',
};

export interface DigestItem {
  kind: CareTaskKind;
  residentName: string;
  deviceKind: DeviceKind | null;
  battery: number | null;
}

export function digestItemText(i: DigestItem): string {
  const device = i.deviceKind ? DEVICE_ZH[i.deviceKind] : '设备';
  switch (i.kind) {
    case 'device_offline':
      return `${i.residentName}${device}离线`;
    case 'low_battery':
      return `${i.residentName}${device}电量低${i.battery !== null ? `${i.battery}%` : ''}`;
    case 'never_reported':
      return `${i.residentName}${device}装后未上线`;
    case 'wellness_check':
      return `${i.residentName}需上门探望`;
    case 'device_flooding':
      return `${i.residentName}${device}发送异常频繁`;
    case 'button_untested':
      return `${i.residentName}${device}本周未测试`;
  }
}

/**
 * `【照护待办】李明，您有5项待办：张桂兰求助按钮离线；王淑珍拉绳电量低15%；刘长顺需上门探望等。详见工作台。`
 * The first few items (most urgent first, as given), fewer if the free text would pass two segments.
 */
export function digestText(workerName: string, total: number, items: DigestItem[]): MessageIntent {
  for (let n = Math.min(items.length, DIGEST_MAX_ITEMS); n >= 1; n--) {
    const list = items.slice(0, n).map(digestItemText).join('；');
    const intent = intentOf('digest', { name: workerName, count: total, items: `${list}${total > n ? '等' : ''}` });
    if (smsLength(demoText(intent)) <= DIGEST_MAX_LENGTH) return intent;
  }
  return intentOf('digest_short', { name: workerName, count: total });
}

/** `【设备停线】安达里3号楼共30台设备14:02起离线，疑似停电或断网，请核实。恢复后另行通知。` */
export function outagePageText(place: string, devices: number, hhmm: string): MessageIntent {
  return intentOf('outage', { place, devices, time: hhmm });
}

/** `【设备恢复】安达里3号楼已恢复28台共30台，停线18分钟；仍离线2台已转为照护待办。` */
export function outageClosedText(place: string, back: number, total: number, minutes: number): MessageIntent {
  const still = total - back;
  return still > 0
    ? intentOf('outage_closed', { place, back, total, minutes, still })
    : intentOf('outage_closed_all', { place, back, total, minutes });
}

const SUMMARY_PREFIX: Record<string, string> = { partially_recovered: 'partially recovered, ', closed_by_hand: 'closed by hand, ' };

/** The stored summary of a closed outage (API and dashboard), without names or phones. */
export function outageSummary(p: {
  place: string;
  total: number;
  back: number;
  minutes: number;
  stillOffline: string[];
  mergedInto?: string;
  reason?: string;
}): string {
  if (p.mergedInto) return `${p.place}: merged into ${p.mergedInto}`;
  const still = p.stillOffline.length > 0 ? `; still offline: ${p.stillOffline.join(', ')}` : '';
  return `${p.place}: ${SUMMARY_PREFIX[p.reason ?? ''] ?? ''}${p.back}/${p.total} devices back after ${p.minutes} min${still}`;
}
