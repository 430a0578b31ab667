// The alarm-to-first-SMS latency: from an alarm's arrival at the gateway to the first page request of its incident.
import { performance } from 'node:perf_hooks';
import type { Incident, OutboundSms, Signal } from '../core/types.js';

export interface FirstPageLatencyDeps {
  incidents: { get(id: string): Promise<Pick<Incident, 'residentId'> | null> };
  /** Observes seconds (the alarm_to_first_sms_seconds histogram). */
  observe(seconds: number): void;
}

/**
 * Keyed by resident, not incident: the incident does not exist yet when the signal arrives, and a resident's next
 * alarm before the first page replaces the arrival time, so the figure is never longer than the newest alarm waited.
 */
export class FirstPageLatency {
  private readonly arrivals = new Map<string, number>();

  constructor(private readonly deps: FirstPageLatencyDeps) {}

  /** A signal was recorded; only alarms (sos, fall) start the clock. */
  signalReceived(signal: Signal): void {
    if (signal.type === 'sos' || signal.type === 'fall') this.arrivals.set(signal.residentId, signal.arrivedHr ?? performance.now());
  }

  /** An SMS request went out at `sentAt` (performance time); the first step's page of an incident stops its clock. */
  pageSent(msg: OutboundSms, sentAt: number): void {
    if (msg.purpose !== 'page' || msg.step !== 1 || !msg.incidentId) return;
    void this.deps.incidents.get(msg.incidentId).then(
      (incident) => {
        const arrived = incident ? this.arrivals.get(incident.residentId) : undefined;
        if (!incident || arrived === undefined) return;
        this.arrivals.delete(incident.residentId);
        this.deps.observe((sentAt - arrived) / 1000);
      },
      () => undefined,
    ); // a lost sample (the database closing) must never become an unhandled rejection
  }
}
