// Routes the bus's events between parts at start: recorded signals to the processor, failed pages to escalation, and the counters.
import { pageFailed } from '../incidents/page-delivery.js';
import { floodingTask } from '../supervision/flooding.js';
import type { Base } from './base.js';
import type { CareParts } from './care.js';
import type { IncidentParts } from './incidents.js';
import type { PagingInternals, PagingParts } from './paging.js';

export type EventWiring = Pick<Base, 'bus' | 'metrics'> &
  Pick<PagingParts, 'pageDelivery'> &
  Pick<PagingInternals, 'firstPage' | 'slowAlarms'> &
  Pick<IncidentParts, 'processor' | 'incidents'> &
  Pick<CareParts, 'supervision'>;

/** Registers the routes under `owner`; `bus.removeAll(owner)` takes them off again. */
export function wireEvents(owner: object, w: EventWiring): void {
  const { bus, metrics: m } = w;
  bus.on(owner, 'signalReceived', (signal) => {
    m.eventsIngested.inc({ type: signal.type });
    w.firstPage.signalReceived(signal);
    // Before submit: the processor may take the signal at once.
    w.slowAlarms.recorded(signal);
    w.processor.submit(signal);
  });
  bus.on(owner, 'signalRejected', (r) => m.eventsRejected.inc({ reason: r.reason }));
  bus.on(owner, 'signalRedelivered', () => m.eventsDuplicate.inc());
  bus.on(owner, 'securityEvent', (e) => m.securityEvents.inc({ kind: e.kind }));
  bus.on(owner, 'deviceFlooding', (f) => w.supervision.tasks.open(floodingTask(f), f.at));
  bus.on(owner, 'incidentChanged', (incident, entry) => {
    // A test press is a check, not an alarm: it stays out of the alarm counts.
    if (entry.action === 'created' && incident.test !== true) m.incidentsOpened.inc({ type: incident.type });
    m.incidentTransitions.inc({ state: incident.state });
  });
  bus.on(owner, 'smsStatusChanged', async (msg) => {
    if (pageFailed(msg)) await w.incidents.onPageFailed(msg);
  });
  bus.on(owner, 'smsDelayed', (msg) => w.pageDelivery.onPageDelayed(msg));
}
