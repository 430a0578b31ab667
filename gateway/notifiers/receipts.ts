// Delivery receipts and replies of the domestic providers in one shape, whether pushed to a webhook or pulled by polling.
import { createHash } from 'node:crypto';
import type { InboundSms } from '../core/types.js';

/** A provider's word on one message: the gateway's delivery states (as the status handler takes them). */
export interface DeliveryReceipt {
  /** The provider's id of the message (Aliyun BizId, Tencent SerialNo): the stored message's providerSid. */
  sid: string;
  status: 'delivered' | 'undelivered';
  /** The carrier's or provider's code, e.g. DELIVERED, MK:0001, DELIVRD. */
  errorCode: string | null;
}

/** Where receipts go: the SMS dispatcher applies them exactly as Twilio's status callbacks. */
export interface ReceiptSink {
  handleStatusCallback(params: { MessageSid: string; MessageStatus: string; ErrorCode?: string }): Promise<boolean>;
}

/** Where replies go: the same inbound path as Twilio's (1, 2, 到, 走, reply codes, de-duplication by provider + id). */
export interface ReplySink {
  handle(sms: InboundSms): Promise<{ handledAs: string }>;
}

export function applyReceipt(sink: ReceiptSink, r: DeliveryReceipt): Promise<boolean> {
  return sink.handleStatusCallback(
    r.errorCode === null
      ? { MessageSid: r.sid, MessageStatus: r.status }
      : { MessageSid: r.sid, MessageStatus: r.status, ErrorCode: r.errorCode },
  );
}

/**
 * Tencent's replies carry no message id, pushed or pulled. The same reply seen again (a retry, a pull after a push, a
 * captured request sent again) has the same number, time and text, so those make its id for de-duplication.
 */
export function tencentReplyId(r: { mobile: string; nationcode: string; time: number; text: string }): string {
  return `r-${createHash('sha256').update(`${r.nationcode}|${r.mobile}|${r.time}|${r.text}`, 'utf8').digest('hex').slice(0, 32)}`;
}
