// The text of an outbound SMS: a sign-in code is stored masked and sent only from the clear intent this process holds.
import { describe, expect, it } from 'vitest';
import type { OutboundSms } from '../../gateway/core/types.js';
import { SECRET_MASK } from '../../gateway/notifiers/kinds.js';
import { SmsTexts } from '../../gateway/notifiers/sms-text.js';
import { sms } from '../contract/fixtures.js';

const CODE = { kind: 'sign_in_code', params: { code: '482913' } };

function storedMessage(texts: SmsTexts, id: string, intent = CODE): OutboundSms {
  return { ...sms(id, { purpose: 'otp', priority: 'routine' }), ...texts.stored(intent) };
}

describe('SMS texts', () => {
  it('stores a sign-in code masked, body and intent, and sends it from the clear intent it holds', () => {
    const texts = new SmsTexts({ publicUrl: 'https://care.example.cn' });
    const msg = storedMessage(texts, 'sms-1');
    expect(msg.intent).toEqual({ kind: 'sign_in_code', params: { code: SECRET_MASK } });
    expect(msg.body).not.toContain('482913');
    texts.hold(msg.id, CODE);
    const sending = texts.forSending(msg);
    expect(sending?.intent).toEqual(CODE);
    expect(sending?.body).toContain('482913');
  });

  it('cannot send a masked message whose clear intent this process never held or has let go', () => {
    const texts = new SmsTexts({ publicUrl: 'https://care.example.cn' });
    const msg = storedMessage(texts, 'sms-2');
    expect(texts.forSending(msg)).toBeNull();
    texts.hold(msg.id, CODE);
    texts.forget(msg.id);
    expect(texts.forSending(msg)).toBeNull();
    // Stored as plain text with the otp purpose (an older row): its body is masked too, so it is not sent either.
    expect(texts.forSending({ ...msg, intent: null })).toBeNull();
  });

  it('sends an intent without secrets as rendered from the registry catalogue, and a plain-text message as stored', () => {
    const texts = new SmsTexts({
      publicUrl: 'https://care.example.cn',
      catalogue: () => ({ visit_reminder: { text: '${day}探访：${list}' } }),
    });
    const intent = { kind: 'visit_reminder', params: { day: '明天', list: '王奶奶' } };
    texts.hold('sms-3', intent);
    const msg = { ...sms('sms-3', { purpose: 'notice', priority: 'routine' }), ...texts.stored(intent) };
    expect(msg.body).toBe('明天探访：王奶奶');
    expect(texts.forSending(msg)).toEqual({ intent, body: '明天探访：王奶奶' });
    expect(texts.forSending({ ...sms('sms-4'), body: '【求助】原文' })).toEqual({ intent: null, body: '【求助】原文' });
  });
});
