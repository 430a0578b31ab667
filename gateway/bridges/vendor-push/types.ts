// What a vendor-cloud push becomes once authenticated and read: one message per device reading, in our event terms.
import type { BridgedEvent, BridgedTelemetry } from '../sink.js';

/** One device's reading from a push, mapped to our events; `key` is stable across the vendor's resends of it. */
export interface VendorMessage {
  externalId: string;
  /** Dedupe key: the same reading pushed again (a retry after a timeout) carries the same key. */
  key: string;
  /** Where in the push it came from, for rejections (`onenet:<dev_id>/<ds_id>`). */
  source: string;
  events: BridgedEvent[];
  telemetry?: BridgedTelemetry;
  state?: 'online' | 'offline';
  /** The platform's or the device's time of the reading (ISO 8601). */
  deviceTime?: string;
  /** A part of the push the mapping does not know (an unknown datastream): recorded, acknowledged, not acted on. */
  unmapped?: string;
}

/** A push that could not be read at all (not JSON, wrong shape): 400, and nothing of it is acted on. */
export class PushFormatError extends Error {}
