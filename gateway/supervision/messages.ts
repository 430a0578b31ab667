// Supervision SMS texts in short, plain Chinese: the care-task digest, the grouped-outage page and its all-clear.
import type { CareTaskKind, DeviceKind } from '../core/types.js';
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
 * The first few items (most urgent first, as given), fewer if the text would pass two segments.
 */
export function digestText(workerName: string, total: number, items: DigestItem[]): string {
  for (let n = Math.min(items.length, DIGEST_MAX_ITEMS); n >= 0; n--) {
    const list = items.slice(0, n).map(digestItemText).join('；');
    const more = total > n ? (n > 0 ? '等' : '') : '';
    const text = `【照护待办】${workerName}，您有${total}项待办${list ? `：${list}${more}` : ''}。详见工作台。`;
    if (smsLength(text) <= DIGEST_MAX_LENGTH || n === 0) return text;
  }
  return `【照护待办】您有${total}项待办。`;
}

/** `【设备停线】安达里3号楼30台设备14:02起离线，疑似停电或断网，请核实。恢复后另行通知。` */
export function outagePageText(place: string, devices: number, hhmm: string): string {
  return `【设备停线】${place}${devices}台设备${hhmm}起离线，疑似停电或断网，请核实。恢复后另行通知。`;
}

/** `【设备恢复】安达里3号楼已恢复28/30台，停线18分钟；仍离线2台已转为照护待办。` */
export function outageClosedText(place: string, back: number, total: number, minutes: number): string {
  const still = total - back;
  return `【设备恢复】${place}已恢复${back}/${total}台，停线${minutes}分钟${still > 0 ? `；仍离线${still}台已转为照护待办` : ''}。`;
}

const SUMMARY_PREFIX: Record<string, string> = { partially_recovered: 'partially recovered, ', closed_by_hand: 'closed by hand, ' };

/** The stored summary of a closed outage (API and dashboard), without names or phones. */
export function outageSummary(p: { place: string; total: number; back: number; minutes: number; stillOffline: string[]; mergedInto?: string; reason?: string }): string {
  if (p.mergedInto) return `${p.place}: merged into ${p.mergedInto}`;
  const still = p.stillOffline.length > 0 ? `; still offline: ${p.stillOffline.join(', ')}` : '';
  return `${p.place}: ${SUMMARY_PREFIX[p.reason ?? ''] ?? ''}${p.back}/${p.total} devices back after ${p.minutes} min${still}`;
}
