// The installation's settings for the screens (GET /api/ui-config), read once per sign-in and shared by the pages.
import { api, ApiError } from '../api.js';
import { setTimeZone } from '../i18n.js';

export interface UiConfig {
  timeZone: string;
  mapTileUrl: string | null;
  smsMode: 'twilio' | 'aliyun' | 'tencent' | 'outbox';
  version: string;
}

let cached: Promise<UiConfig | null> | null = null;

/** Null when the gateway has no /api/ui-config (an older gateway): pages then use their defaults. */
export function uiConfig(): Promise<UiConfig | null> {
  cached ??= api.get<UiConfig>('/api/ui-config').then(
    (cfg) => {
      setTimeZone(cfg.timeZone);
      return cfg;
    },
    (err: unknown) => {
      cached = null;
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    },
  );
  return cached;
}

/** After sign-out or sign-in as someone else. */
export function forgetUiConfig(): void {
  cached = null;
}
