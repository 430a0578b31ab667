// Visit SMS texts in short, plain Chinese: the evening reminder, replies to 到/走/没人, and missed-visit notices.

const WEEKDAY_ZH = ['周日', '周一', '周二', '周三', '周四', '周五', '周六'];

export interface ReminderItem {
  /** Local "HH:MM". */
  time: string;
  residentName: string;
  address: string;
  activity: string;
}

/**
 * `【探访提醒】明天11月27日周五：11:00 张桂兰 安达里3号楼2门401 做饭。到达回“到”，离开回“走”，敲门无人应回“没人”。`
 * followed, when the gateway signs links, by ` 查看：<link>` to her large-text visits page.
 */
export function reminderText(day: { month: number; day: number; weekday: number }, label: '今天' | '明天', items: ReminderItem[], link?: string): string {
  const list = items.map((i) => `${i.time} ${i.residentName} ${i.address} ${i.activity}`).join('；');
  const text = `【探访提醒】${label}${day.month}月${day.day}日${WEEKDAY_ZH[day.weekday] ?? ''}：${list}。到达回“到”，离开回“走”，敲门无人应回“没人”。`;
  return link ? `${text} 查看：${link}` : text;
}

export function replyCheckedIn(residentName: string, activity: string): string {
  return `已签到：${residentName}家 ${activity}。离开时请回“走”。`;
}

export function replyAlreadyCheckedIn(residentName: string): string {
  return `您已在${residentName}家签到。离开时请回“走”。`;
}

export function replyCheckedOut(hours: number, points: number): string {
  return `已签退，本次服务${formatNumber(hours)}小时，积分+${formatNumber(points)}。谢谢您！`;
}

export const REPLY_NOT_CHECKED_IN = '您还没有签到，无法签退。到达时请回“到”。';
export const REPLY_NO_VISIT_TODAY = '您今天没有待签到的探访。';
export const REPLY_VISIT_HELP = '探访短信：到达回“到”（或D），离开回“走”（或Z），敲门无人应回“没人”。';
export const REPLY_NOT_A_VOLUNTEER = '您好，本号码未登记为志愿者，无法签到。如有疑问请联系社区。';

export function replyTooEarly(time: string, residentName: string, earlyMinutes: number): string {
  return `下一次探访${time}在${residentName}家，开始前${earlyMinutes}分钟内可签到。`;
}

export function replyDoorUnanswered(residentName: string): string {
  return `已通知社区网格员去${residentName}家查看，请在门口稍候。`;
}

export function missedNotice(p: { volunteerName: string; residentName: string; address: string; time: string; activity: string; minutes: number }): string {
  return `【探访未签到】志愿者${p.volunteerName}应于${p.time}到${p.residentName}家（${p.address}）${p.activity}，已过${p.minutes}分钟未签到，请联系确认。`;
}

/** 1.5 → "1.5", 2 → "2", 0.25 → "0.25". */
export function formatNumber(n: number): string {
  return String(Math.round(n * 100) / 100);
}
