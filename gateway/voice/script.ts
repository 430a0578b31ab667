// What a call says: who, where, what and how long ago, in Chinese words a text-to-speech voice reads naturally.
import type { IncidentType, Resident } from '../core/types.js';
import { localTime } from '../paging/shifts.js';
import { ago, clockTime, spokenAddress } from './numbers.js';

const WHAT: Record<IncidentType, string> = {
  sos: '按了求助按钮',
  fall: '疑似跌倒',
  door_unanswered: '志愿者敲门无人应答',
  inactivity: '长时间没有活动迹象',
};

export interface CallScriptInput {
  resident: Pick<Resident, 'name' | 'address'>;
  type: IncidentType;
  /** When the alarm came in. */
  at: number;
  now: number;
  timeZone: string;
}

/**
 * The spoken page. `params` are the same parts for a provider's approved template (Tencent VMS: `{1}`…`{4}`), in the
 * order of the demo template: name, address, what, when.
 */
export interface CallScript {
  text: string;
  params: [string, string, string, string];
}

export const KEY_PROMPT = '接单请按一，转给下一位请按二，重听请按星号键。';

/** `张桂兰，安达里三号楼二门四零一，十四点零五分按了求助按钮，三分钟前。短信无人接单。` + the key prompt. */
export function callScript(p: CallScriptInput): CallScript {
  const t = localTime(p.at, p.timeZone);
  const when = `${clockTime(Math.floor(t.minutes / 60), t.minutes % 60)}，${ago(p.now - p.at)}`;
  const where = spokenAddress(p.resident.address);
  const what = WHAT[p.type];
  return {
    text: `社区紧急求助。${p.resident.name}，${where}，${what}，${when}。短信无人接单。${KEY_PROMPT}`,
    params: [p.resident.name, where, what, when],
  };
}

/** Said on a call when the incident was taken by someone else meanwhile ("已由王强接单"). */
export function takenByOther(name: string): string {
  return `此求助已由${name}接单，您无需前往，谢谢。`;
}

export const SAID_ACKNOWLEDGED = '已由您接单，请尽快前往，详情见短信。';
export const SAID_DECLINED = '已转给下一位，谢谢。';
export const SAID_NO_KEY = '未收到按键，将联系下一位。';
export const SAID_WRONG_KEY = '按键无效。';
