// The events device supervision emits on the gateway bus, for the dashboard live feed and metrics.
import type { CareTask, Outage } from './types.js';

export interface SupervisionEvents {
  /** A care task opened, or closed (condition cleared, or by hand). */
  taskChanged: [CareTask, 'opened' | 'closed'];
  /** A grouped outage opened, changed (a device joined or came back, its page went out) or closed. */
  outageChanged: [Outage, 'opened' | 'updated' | 'closed'];
  /** A registry import finished while the gateway runs (emitted by the gateway after each import): cached registry views reload. */
  registryChanged: [];
}
