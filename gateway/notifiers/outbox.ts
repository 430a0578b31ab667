// The local outbox: without Twilio credentials no SMS leaves the gateway; messages stay stored with status 'outbox'.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { OutgoingSms, SmsProvider, SmsSendResult } from './provider.js';

export interface OutboxProviderDeps {
  log: Logger;
}

export class OutboxProvider implements SmsProvider {
  readonly name = 'outbox' as const;

  constructor(private readonly deps: OutboxProviderDeps) {}

  async send(_msg: OutgoingSms): Promise<SmsSendResult> {
    const sid = `OB${randomBytes(16).toString('hex')}`;
    // Loud on purpose, every time: in outbox mode nobody's phone rings.
    this.deps.log.warn(
      { sid },
      'SMS NOT SENT: no Twilio credentials (TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN/TWILIO_FROM), message kept in the local outbox',
    );
    return { sid, status: 'outbox' };
  }
}
