// The queries behind the monthly report and the SMS log: read models the reports feature owns and each storage engine implements.

/** One incident as the monthly report counts it. */
export interface ReportIncident {
  id: string;
  communityId: string;
  type: string;
  state: string;
  openedAt: number;
  firstPagedAt: number | null;
  acknowledgedAt: number | null;
  /** When a responder was recorded on site ("已到达"): the incident's own time, else its first `on_site` audit entry. */
  onSiteAt: number | null;
}

/** A registered device with the health state last written to the store (null: never reported). */
export interface StoredDeviceState {
  id: string;
  state: string | null;
}

export interface VisitOutcomeCount {
  status: string;
  count: number;
}

export interface MonthlyReportReads {
  /** The registry's communities by id, each with its name (the id when the record has none). */
  communities(): Promise<{ id: string; name: string }[]>;
  /** Incidents opened in [from, to), of one community or of all (null); test presses are left out, they are checks, not alarms. */
  incidentsOpened(from: number, to: number, community: string | null): Promise<ReportIncident[]>;
  /** Devices of residents (of one community, or all), each with its stored health state. */
  deviceStates(community: string | null): Promise<StoredDeviceState[]>;
  /** Visit occurrences starting in [from, to) that have a record, counted by status. */
  visitOutcomes(from: number, to: number, community: string | null): Promise<VisitOutcomeCount[]>;
}

export interface SmsLogQuery {
  direction?: 'in' | 'out';
  status?: string;
  purpose?: string;
  /** Phone number or text fragment. */
  q?: string;
  incident?: string;
  /** Instants (ms), [from, to). */
  from?: number;
  to?: number;
  limit: number;
}

export interface SmsLogEntry {
  direction: 'out' | 'in';
  id: string;
  /** The other party: the recipient of an outbound message, the sender of an inbound one. */
  phone: string;
  body: string;
  at: number;
  /** Outbound: the delivery status; inbound: `received`. */
  status: string;
  /** Outbound: why it was sent (page, notice…); inbound: how the reply was handled (ack, visit_check_in…). */
  purpose: string;
  incidentId: string | null;
  role: string | null;
  provider: string | null;
  /** True for a message kept in the local outbox: it never left the gateway. */
  notSent: boolean;
  sentAt: number | null;
  errorCode: string | null;
  error: string | null;
  attempts: number | null;
}

export interface SmsLogReads {
  /**
   * Outbound messages matching the query's status, purpose, incident, [from, to) on the creation time and text (a phone
   * or body fragment, matched literally), newest first, at most `limit`. The direction is not looked at.
   */
  outbound(q: SmsLogQuery): Promise<SmsLogEntry[]>;
  /** Inbound messages matching incident, [from, to) on the receipt time and text, newest first, at most `limit` (status and purpose are not looked at). */
  inbound(q: SmsLogQuery): Promise<SmsLogEntry[]>;
  /** Outbound messages kept in the local outbox (never sent). */
  outboxCount(): Promise<number>;
}

/** Every report read model of one database. */
export interface ReportReads extends MonthlyReportReads, SmsLogReads {}
