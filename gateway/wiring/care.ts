// Wires the care side: device supervision and care tasks, wellness (inactivity) checks, volunteer visits and weekly test presses.
import { volunteerLink } from '../http/routes/visit-link.js';
import { doorUnansweredAlarm } from '../incidents/door-unanswered.js';
import { IncidentNotes } from '../incidents/notes.js';
import { Supervision } from '../supervision/service.js';
import { registerSupervisionMetrics } from '../supervision/health.js';
import { TestPresses } from '../test-presses/feature.js';
import { VisitService } from '../visits/service.js';
import { inactivityAlarm } from '../wellness/alarm.js';
import { InactivityMonitor } from '../wellness/monitor.js';
import type { Base } from './base.js';
import type { DeviceParts } from './devices.js';
import type { IncidentParts } from './incidents.js';
import type { PagingInternals, PagingParts } from './paging.js';

export interface CareParts {
  /** Device health: offline timeout, care tasks and their digest, storm (outage) grouping. */
  supervision: Supervision;
  /** Wellness checks: no sign of life for a resident's inactivityHours of waking time. */
  inactivity: InactivityMonitor;
  visits: VisitService;
  /** Weekly button checks: test windows per device or building, and the list of buttons not tested for a week. */
  testPresses: TestPresses;
}

export type CareWiring = Base &
  Pick<DeviceParts, 'ingest'> &
  Pick<PagingParts, 'dispatcher' | 'links'> &
  Pick<PagingInternals, 'carriesLinks'> &
  Pick<IncidentParts, 'incidents' | 'replies'> & {
    /** 'manual': visit reminders, missed-visit sweeps and the care digest run only when called (tests on a ManualClock). */
    jobs?: 'cron' | 'manual';
  };

export function wireCare(w: CareWiring): CareParts {
  const { config, store, bus, metrics, clock, log, incidents } = w;
  const timeZone = config.timeZone;
  const supervision = new Supervision({
    store,
    bus,
    clock,
    log: log.child({ part: 'supervision' }),
    timeZone,
    sms: w.dispatcher,
    health: w.ingest,
    digestTriggers: w.jobs ?? 'cron',
    // One node alone sweeps as before: its health book is the whole truth, and no one else opens tasks or outages.
    ...(w.slots.shared ? { slots: w.slots } : {}),
  });
  registerSupervisionMetrics(metrics.registry, supervision);
  const notes = new IncidentNotes({ store, bus, clock });
  const inactivity = new InactivityMonitor({
    store,
    bus,
    clock,
    log: log.child({ part: 'inactivity' }),
    timeZone,
    tasks: supervision.tasks,
    raise: inactivityAlarm(incidents),
    afterPage: (residentId, at, source) => notes.signOfLife(residentId, at, source),
  });
  const visits = new VisitService({
    store,
    clock,
    log: log.child({ part: 'visits' }),
    timeZone,
    sms: w.dispatcher,
    replies: w.replies,
    onCheckIn: (residentId, at) => inactivity.onCheckIn(residentId, at),
    // A template provider cannot carry the signed link: the reminder then goes without it (she signs in by SMS code).
    ...(w.carriesLinks
      ? { volunteerLink: (volunteerId: string, expiresAt: number) => volunteerLink(w.links, config.publicUrl, volunteerId, expiresAt) }
      : {}),
    onDoorUnanswered: doorUnansweredAlarm({ volunteers: store.registry, incidents }),
    triggers: w.jobs ?? 'cron',
    slots: w.slots,
  });
  // An SMS without a reply code from a volunteer's phone is hers to the visit feature (check-in, check-out, no answer).
  w.replies.setFallback('visit', async (phone) => (await store.registry.listVolunteers()).some((v) => v.phone === phone));
  // Test presses: a press inside a test window pages the worker as a test (the incident service decides), and the
  // window's end closes its tests.
  const testPresses = new TestPresses({
    repo: store.testPresses,
    registry: store.registry,
    tasks: supervision.tasks,
    bus,
    clock,
    log: log.child({ part: 'test-presses' }),
    timeZone,
    endTests: (windowId, reason) => incidents.endTests(windowId, reason),
    slots: w.slots,
  });
  return { supervision, inactivity, visits, testPresses };
}
