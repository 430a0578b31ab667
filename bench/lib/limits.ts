// Benchmarks drive devices far past any real device's rate on purpose: the per-device limits are turned off for them.
export const DEVICE_LIMITS_OFF = { DEVICE_RATE_PER_MINUTE: '0', DEVICE_DAILY_MESSAGES: '0', DEVICE_DAILY_MB: '0' } as const;
