// Numbers and times written in Chinese characters for text-to-speech, which reads a digit string one digit at a time.

const DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'] as const;
const UNITS = ['', '十', '百', '千'] as const;

function digit(d: number): string {
  return DIGITS[d] ?? '';
}

/** 0 → 零, 14 → 十四, 20 → 二十, 105 → 一百零五, 1010 → 一千零一十, 23456 → 二万三千四百五十六 (whole numbers below 10^8). */
export function cardinal(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= 1e8) throw new RangeError(`cardinal: ${n} is not a whole number from 0 to 99,999,999`);
  if (n === 0) return '零';
  const high = Math.floor(n / 10_000);
  const low = n % 10_000;
  if (high === 0) return belowTenThousand(low, false);
  const head = `${belowTenThousand(high, false)}万`;
  if (low === 0) return head;
  // 10,005 → 一万零五: a gap in the thousands is read as 零.
  return head + (low < 1000 ? '零' : '') + belowTenThousand(low, true);
}

/** Up to 9999; `inner` when it follows a higher part, where 10-19 keep their 一 (一万零一十, not 一万零十). */
function belowTenThousand(n: number, inner: boolean): string {
  const ds = String(n).split('').map(Number);
  let out = '';
  let zero = false;
  ds.forEach((d, i) => {
    const unit = UNITS[ds.length - 1 - i] ?? '';
    if (d === 0) {
      zero = out !== '';
      return;
    }
    if (zero) out += '零';
    zero = false;
    // 十四, not 一十四, when the number starts with its tens.
    out += d === 1 && unit === '十' && out === '' && !inner ? '十' : digit(d) + unit;
  });
  return out;
}

/** A count of things: 2 is 两 (两分钟), every other number as `cardinal`. */
export function count(n: number): string {
  return n === 2 ? '两' : cardinal(n);
}

/** Digit by digit, as a flat or phone number is read: "401" → 四零一. Other characters are kept. */
export function digitByDigit(text: string): string {
  return text.replace(/[0-9]/g, (d) => digit(Number(d)));
}

/** 14:05 → 十四点零五分, 9:30 → 九点三十分, 14:00 → 十四点整, 0:07 → 零点零七分. */
export function clockTime(hour: number, minute: number): string {
  const h = cardinal(hour);
  if (minute === 0) return `${h}点整`;
  return `${h}点${minute < 10 ? `零${digit(minute)}` : cardinal(minute)}分`;
}

/** How long ago, spoken: 刚刚, 三分钟前, 一小时二十分钟前, 两小时前. */
export function ago(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 1) return '刚刚';
  if (minutes < 60) return `${count(minutes)}分钟前`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `${count(hours)}小时${rest > 0 ? `${cardinal(rest)}分钟` : ''}前`;
}

/**
 * An address as it is said: a number before 号楼/号/栋/楼/门/单元/层/区/期/排/幢 counts (3号楼 → 三号楼, 12栋 → 十二栋);
 * every other number is a flat or house number, read digit by digit (401 → 四零一).
 */
export function spokenAddress(address: string): string {
  return address
    .normalize('NFKC')
    .replace(/[0-9]+(?=号楼|号院|号|栋|幢|楼|门|单元|层|区|期|排|巷|条)/g, (n) => cardinal(Number(n)))
    .replace(/[0-9]+/g, (n) => digitByDigit(n));
}
