// Builds the configured voice provider (VOICE_PROVIDER) from the validated configuration.
import type { TwilioConfig, VoiceConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { VoiceProvider } from '../notifiers/voice/port.js';
import { TencentVmsProvider } from '../notifiers/voice/tencent-vms.js';
import { TwilioVoiceProvider } from '../notifiers/voice/twilio-voice.js';

export function createVoiceProvider(voice: VoiceConfig, twilio: TwilioConfig | null, publicUrl: string, log: Logger): VoiceProvider {
  switch (voice.provider) {
    case 'twilio':
      // The schema requires the TWILIO_* trio with VOICE_PROVIDER=twilio; this names it should that ever change.
      if (!twilio) throw new Error('VOICE_PROVIDER twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM');
      return new TwilioVoiceProvider({
        accountSid: twilio.accountSid,
        authToken: twilio.authToken,
        from: twilio.from,
        apiUrl: twilio.apiUrl,
        publicUrl,
        log,
      });
    case 'tencent':
      return new TencentVmsProvider(voice.tencent);
  }
}
