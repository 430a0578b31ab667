// Counters of a fleet run, the one-line progress view and the closing summary.
import { formatDuration } from '../common/duration.js';

/** What kind of message a device sent, for the summary's breakdown. */
export const SENT_KINDS = ['status', 'heartbeat', 'telemetry', 'motion', 'sos', 'fall', 'cancel', 'low_battery', 'bad_input'] as const;
export type SentKind = (typeof SENT_KINDS)[number];

export interface FleetSnapshot {
  devices: number;
  connected: number;
  connects: number;
  reconnects: number;
  sent: number;
  acked: number;
  errors: number;
  /** Refusals the run asked for (wrong secrets): the gateway did what it should. */
  refusedAsExpected: number;
  /** Connections that ended without DISCONNECT on purpose (power cut, dead battery): their wills fire. */
  dropped: number;
  commands: number;
  byKind: Record<SentKind, number>;
  lastErrors: string[];
  elapsedMs: number;
}

const KEEP_ERRORS = 5;

export class FleetStats {
  private readonly startedAt: number;
  private connectedNow = 0;
  private connects = 0;
  private reconnects = 0;
  private sentCount = 0;
  private ackedCount = 0;
  private errorCount = 0;
  private refused = 0;
  private droppedCount = 0;
  private commandCount = 0;
  private readonly byKind: Record<SentKind, number> = {
    status: 0,
    heartbeat: 0,
    telemetry: 0,
    motion: 0,
    sos: 0,
    fall: 0,
    cancel: 0,
    low_battery: 0,
    bad_input: 0,
  };
  private readonly errorLog: string[] = [];
  // Rate over the last progress interval, not since the start, so a burst shows.
  private lastRate = { at: 0, sent: 0, perSecond: 0 };

  constructor(
    private readonly devices: number,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.lastRate.at = this.startedAt;
  }

  connected(again: boolean): void {
    this.connectedNow++;
    if (again) this.reconnects++;
    else this.connects++;
  }

  disconnected(): void {
    this.connectedNow = Math.max(0, this.connectedNow - 1);
  }

  sent(kind: SentKind): void {
    this.sentCount++;
    this.byKind[kind]++;
  }

  acked(): void {
    this.ackedCount++;
  }

  error(detail: string): void {
    this.errorCount++;
    this.errorLog.push(detail);
    if (this.errorLog.length > KEEP_ERRORS) this.errorLog.shift();
  }

  refusedAsExpected(): void {
    this.refused++;
  }

  dropped(): void {
    this.droppedCount++;
  }

  command(): void {
    this.commandCount++;
  }

  snapshot(): FleetSnapshot {
    return {
      devices: this.devices,
      connected: this.connectedNow,
      connects: this.connects,
      reconnects: this.reconnects,
      sent: this.sentCount,
      acked: this.ackedCount,
      errors: this.errorCount,
      refusedAsExpected: this.refused,
      dropped: this.droppedCount,
      commands: this.commandCount,
      byKind: { ...this.byKind },
      lastErrors: [...this.errorLog],
      elapsedMs: this.now() - this.startedAt,
    };
  }

  /** Messages per second since the previous call. */
  rate(): number {
    const at = this.now();
    if (at - this.lastRate.at >= 250) {
      this.lastRate = { at, sent: this.sentCount, perSecond: ((this.sentCount - this.lastRate.sent) * 1000) / (at - this.lastRate.at) };
    }
    return this.lastRate.perSecond;
  }
}

/** `connected 298/300  sent 12034  acked 11990  errors 0  rate 41.2/s  12s` */
export function progressLine(s: FleetSnapshot, rate: number): string {
  const parts = [
    `connected ${s.connected}/${s.devices}`,
    `sent ${s.sent}`,
    `acked ${s.acked}`,
    `errors ${s.errors}`,
    `rate ${rate.toFixed(1)}/s`,
  ];
  if (s.dropped > 0) parts.push(`dropped ${s.dropped}`);
  if (s.refusedAsExpected > 0) parts.push(`refused ${s.refusedAsExpected}`);
  parts.push(formatDuration(s.elapsedMs));
  return parts.join('  ');
}

export function summary(s: FleetSnapshot): string {
  const seconds = Math.max(s.elapsedMs / 1000, 0.001);
  const kinds = SENT_KINDS.filter((k) => s.byKind[k] > 0)
    .map((k) => `${k} ${s.byKind[k]}`)
    .join(', ');
  const lines = [
    `fleet summary after ${formatDuration(s.elapsedMs)}`,
    `  devices      ${s.devices} (${s.connects} connected, ${s.reconnects} reconnects, ${s.connected} still connected)`,
    `  sent         ${s.sent} (${(s.sent / seconds).toFixed(1)}/s)${kinds ? `: ${kinds}` : ''}`,
    `  acked        ${s.acked} (QoS 1 PUBACKs)`,
    `  commands     ${s.commands} received from the gateway`,
    `  dropped      ${s.dropped} connections cut without DISCONNECT (wills fire)`,
    `  refused      ${s.refusedAsExpected} wrong-secret logins refused, as they should be`,
    `  errors       ${s.errors}`,
  ];
  for (const e of s.lastErrors) lines.push(`    ${e}`);
  return lines.join('\n');
}
