// Visit SMS as intents for the template catalogue: the evening reminder, replies to 到/走/没人, and missed-visit notices.
import type { MessageIntent } from '../core/types.js';
import { intentOf } from '../notifiers/kinds.js';

const WEEKDAY_ZH = ['周日', '周一', '周二', '周三', '周四', '周五', '周六'];

export interface ReminderItem {
  /** Local "HH:MM". */
  time: string;
  residentName: string;
  address: string;
  activity: string;
}

/**
 * `【探访提醒】明天11月27日周五探访：11:00 张桂兰 安达里3号楼2门401 做饭。到达回“到”，离开回“走”，敲门无人应回“没人”。`
 * followed, when the gateway signs links, by ` 查看：<link>` to her large-text visits page (free-text providers only).
 */
export function reminderText(
  day: { month: number; day: number; weekday: number },
  label: '今天' | '明天',
  items: ReminderItem[],
  link?: string,
): MessageIntent {
  const list = items.map((i) => `${i.time} ${i.residentName} ${i.address} ${i.activity}`).join('；');
  const params = { day: `${label}${day.month}月${day.day}日${WEEKDAY_ZH[day.weekday] ?? ''}`, list };
  return link ? intentOf('visit_reminder_link', { ...params, link }) : intentOf('visit_reminder', params);
}

export function replyCheckedIn(residentName: string, activity: string): MessageIntent {
  return intentOf('visit_checked_in', { name: residentName, activity });
}

export function replyAlreadyCheckedIn(residentName: string): MessageIntent {
  return intentOf('visit_already_checked_in', { name: residentName });
}

export function replyCheckedOut(hours: number, points: number): MessageIntent {
  return intentOf('visit_checked_out', { hours: formatNumber(hours), points: formatNumber(points) });
}

export const REPLY_NOT_CHECKED_IN = intentOf('visit_not_checked_in');
export const REPLY_NO_VISIT_TODAY = intentOf('visit_nothing_today');
export const REPLY_VISIT_HELP = intentOf('visit_help');
export const REPLY_NOT_A_VOLUNTEER = intentOf('visit_not_a_volunteer');

export function replyTooEarly(time: string, residentName: string, earlyMinutes: number): MessageIntent {
  return intentOf('visit_too_early', { time, name: residentName, minutes: earlyMinutes });
}

export function replyDoorUnanswered(residentName: string): MessageIntent {
  return intentOf('visit_door_unanswered', { name: residentName });
}

export function missedNotice(p: {
  volunteerName: string;
  residentName: string;
  address: string;
  time: string;
  activity: string;
  minutes: number;
}): MessageIntent {
  return intentOf('visit_missed', {
    volunteer: p.volunteerName,
    time: p.time,
    name: p.residentName,
    address: p.address,
    activity: p.activity,
    minutes: p.minutes,
  });
}

/** 1.5 → "1.5", 2 → "2", 0.25 → "0.25". */
export function formatNumber(n: number): string {
  return String(Math.round(n * 100) / 100);
}
