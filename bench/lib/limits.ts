// Benchmarks drive devices far past any real device's rate on purpose: the per-device limits are turned off for them.
export const DEVICE_LIMITS_OFF = { DEVICE_RATE_PER_MINUTE: '0', DEVICE_DAILY_MESSAGES: '0', DEVICE_DAILY_MB: '0' } as const;

/** The same for a bridge's own limits (its whole fleet shares them): the bridge benchmark brings thousands of buttons online at once. */
export const BRIDGE_LIMITS_OFF = { ratePerMinute: 0, burst: 0, dailyMessages: 0, dailyBytes: 0, disconnectAfter: 0 } as const;
