// MQTT topic layout of the device protocol: care/v1/<deviceId>/<channel>.

export const TOPIC_ROOT = 'care/v1';

/** Channels a device publishes on; `command` is the one it subscribes to. */
export const DEVICE_CHANNELS = ['event', 'telemetry', 'status'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

export const COMMAND_CHANNEL = 'command';

export function deviceTopicPrefix(deviceId: string): string {
  return `${TOPIC_ROOT}/${deviceId}/`;
}

export function deviceTopic(deviceId: string, channel: DeviceChannel | typeof COMMAND_CHANNEL): string {
  return `${deviceTopicPrefix(deviceId)}${channel}`;
}

export function commandTopic(deviceId: string): string {
  return deviceTopic(deviceId, COMMAND_CHANNEL);
}

export function isDeviceChannel(channel: string): channel is DeviceChannel {
  return (DEVICE_CHANNELS as readonly string[]).includes(channel);
}

/**
 * The part of `topic` after `care/v1/<deviceId>/`, or null when the topic is not under that device's
 * own prefix. Prefix matching (not splitting on '/') keeps this exact for any device id.
 */
export function channelUnder(deviceId: string, topic: string): string | null {
  const prefix = deviceTopicPrefix(deviceId);
  return topic.startsWith(prefix) && topic.length > prefix.length ? topic.slice(prefix.length) : null;
}
