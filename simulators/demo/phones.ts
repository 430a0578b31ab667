// Who answers in the live demo: most grid workers reply "1" after a while, some family members do, the rest never; workers who never text back pick up a call; fixed per phone.
import { createHash } from 'node:crypto';
import type { PhoneEntry } from '../common/registry.js';
import type { ResponderRule } from '../sms/responders.js';

export interface DemoPhoneOptions {
  /** Replies come this many times sooner than at speed 1. */
  speed: number;
}

/** A number in [0, 1) fixed by the phone, so the same phone behaves the same way in every demo run. */
function share(phone: string, salt: string): number {
  return createHash('sha256').update(`${salt}:${phone}`).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * One rule per phone of the registry. Workers: two in three reply "1" after 15-45 s, the rest never, so
 * some incidents escalate to the next worker. Duty phones answer after 60 s. Family: one in four replies
 * "1" after 30-90 s. Volunteers never answer a page (they only check in to visits).
 */
export function demoResponderRules(phones: readonly PhoneEntry[], opts: DemoPhoneOptions): ResponderRule[] {
  const after = (from: number, to: number, phone: string): number =>
    Math.round(((from + (to - from) * share(phone, 'delay')) * 1000) / opts.speed);
  const rules: ResponderRule[] = [];
  const seen = new Set<string>();
  for (const p of phones) {
    if (seen.has(p.phone)) continue;
    seen.add(p.phone);
    const roll = share(p.phone, 'answers');
    switch (p.role) {
      case 'worker':
        rules.push(
          roll < 2 / 3 ? { phone: p.phone, reply: '1', afterMs: after(15, 45, p.phone) } : { phone: p.phone, reply: null, afterMs: 0 },
        );
        break;
      case 'duty':
        rules.push({ phone: p.phone, reply: '1', afterMs: after(60, 60, p.phone) });
        break;
      case 'family':
        rules.push(
          roll < 1 / 4 ? { phone: p.phone, reply: '1', afterMs: after(30, 90, p.phone) } : { phone: p.phone, reply: null, afterMs: 0 },
        );
        break;
      case 'volunteer':
        rules.push({ phone: p.phone, reply: null, afterMs: 0 });
        break;
      default: {
        const never: never = p.role;
        throw new Error(`unknown phone role ${String(never)}`);
      }
    }
  }
  return rules;
}

/** How a simulated person takes a call: answers after a while, then presses a key after hearing the page. */
export interface CallAnswer {
  answerAfterMs: number;
  keyAfterMs: number;
  key: string;
}

/**
 * The grid workers who never text back (a third of them, by the rules above) wake for a phone call: they answer after
 * 5-15 s and press 1 three seconds into the message, so the demo shows a page taken by a call. Everyone else lets a
 * call ring; you can still answer any call on the phones page first.
 */
export function demoCallAnswers(phones: readonly PhoneEntry[], opts: DemoPhoneOptions): Map<string, CallAnswer> {
  const out = new Map<string, CallAnswer>();
  for (const rule of demoResponderRules(phones, opts)) {
    const worker = phones.some((p) => p.phone === rule.phone && p.role === 'worker');
    if (!worker || rule.reply !== null) continue;
    out.set(rule.phone, {
      answerAfterMs: Math.round(((5 + 10 * share(rule.phone, 'call')) * 1000) / opts.speed),
      keyAfterMs: Math.round(3000 / opts.speed),
      key: '1',
    });
  }
  return out;
}
