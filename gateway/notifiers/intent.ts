// What a message means, apart from how a provider carries it: a kind with named parameters, and each provider's
// approved template for that kind.

import type { MessageIntent, MessagePriority, SmsProviderName } from '../core/types.js';

// The intent and its priority live in core (the stored SMS carries them); they are named here too for the notifiers.
export type { MessageIntent, MessagePriority, SmsProviderName };

/** Providers that can place voice calls with keypress acknowledgement. */
export type VoiceProviderName = 'twilio' | 'aliyun' | 'tencent';

/** What a provider can carry; the dispatcher and the catalogue checks read these instead of the provider's name. */
export interface ProviderCapabilities {
  /** Replies from the recipient reach the gateway. */
  twoWay: boolean;
  /** `free_text`: any body (Twilio, outbox); `template`: only approved templates with parameters (Aliyun, Tencent). */
  content: 'free_text' | 'template';
  /** The longest parameter value the provider accepts, in characters; null for no limit. */
  maxParamLength: number | null;
  /** Whether a parameter may hold a URL (Tencent forbids variable links). */
  linksInParams: boolean;
  /** How delivery receipts arrive: pushed to a webhook, pulled by polling, or either. */
  receipts: 'push' | 'pull' | 'push_or_pull';
}

/** Aliyun: the approved template's code and, when it differs from `ALIYUN_SMS_SIGN_NAME`, its signature. */
export interface AliyunTemplate {
  templateCode: string;
  signName?: string;
}

/** Tencent: the approved template's id; its `{1}`, `{2}`, … take these named parameters, in this order. */
export interface TencentTemplate {
  templateId: string;
  params: string[];
}

/**
 * One kind of message in the catalogue. `text` uses Aliyun's `${name}` placeholders and is what Twilio, the outbox
 * and the simulators send with the parameters filled in.
 */
export interface TemplateEntry {
  text: string;
  /**
   * Free text only: a word put in 【】 before the text (`求助`), where domestic providers put their approved sign name.
   * Never part of a template, whose rules forbid 【】.
   */
  label?: string;
  aliyun?: AliyunTemplate;
  tencent?: TencentTemplate;
}

/** The registry's `sms.templates`: message kind → its templates. */
export type TemplateCatalogue = Record<string, TemplateEntry>;
