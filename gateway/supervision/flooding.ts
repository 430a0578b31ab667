// A device over its message limits is likely faulty (or tampered with): a care task for its grid worker to look at it.
import type { NewCareTask } from '../core/types.js';
import type { DeviceFlooding } from '../ingest/events.js';

export function floodingTask(f: DeviceFlooding): NewCareTask {
  return { kind: 'device_flooding', residentId: f.residentId, deviceId: f.deviceId, detail: { reason: f.reason, detail: f.detail } };
}
