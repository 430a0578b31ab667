// Notices a sudden fall in connected devices (a building's power or network, or devices refused en masse) so /healthz and the duty board can name it.
import type { Clock } from '../core/clock.js';

export interface ConnectionDropRule {
  /** Share of the recent peak that must be gone (0.3: 30 %). */
  share: number;
  /** Devices that must be gone at least, so a quiet site's one or two reconnecting fixtures raise nothing. */
  minDevices: number;
  /** How far back the peak is looked for. */
  windowMs: number;
  /** How long a fall stays reported when the devices do not come back; by then device supervision reports them offline. */
  holdMs: number;
}

export const DEFAULT_CONNECTION_DROP: ConnectionDropRule = { share: 0.3, minDevices: 5, windowMs: 2 * 60_000, holdMs: 15 * 60_000 };

/** A fall in progress: `from` devices were connected within the window, `to` are now. */
export interface ConnectionDrop {
  from: number;
  to: number;
  at: number;
}

export interface ConnectionWatchDeps {
  clock: Clock;
  rule?: ConnectionDropRule;
}

interface CountAt {
  at: number;
  count: number;
}

/** Entries dropped from the front of a list are spliced off once they are this many and half of it. */
const COMPACT_FROM = 1024;

export class ConnectionWatch {
  /**
   * (time, count) after each change, oldest first, from `head` on: the first is the count in effect when the window
   * starts (or the oldest in it), every later one is inside the window.
   */
  private samples: CountAt[] = [];
  private head = 0;
  /**
   * The window's samples (time after its start) whose count no later sample reaches, from `peakHead` on: counts fall
   * along it, so its first is the window's peak. A storm of CONNECTs adds a sample each; a scan of the whole window per
   * sample cost time in the square of the storm (5,000 CONNECTs on a node: 12.5 million steps, and an array each).
   */
  private peaks: CountAt[] = [];
  private peakHead = 0;
  private drop: ConnectionDrop | null = null;

  constructor(private readonly deps: ConnectionWatchDeps) {}

  get rule(): ConnectionDropRule {
    return this.deps.rule ?? DEFAULT_CONNECTION_DROP;
  }

  /** Call with the connected count after every connect and disconnect. */
  observe(count: number): void {
    const now = this.deps.clock.now();
    const sample = { at: now, count };
    this.samples.push(sample);
    while (this.peaks.length > this.peakHead && (this.peaks[this.peaks.length - 1]?.count ?? Infinity) <= count) this.peaks.pop();
    this.peaks.push(sample);
    const since = now - this.rule.windowMs;
    while (this.samples.length - this.head > 1 && (this.samples[this.head + 1]?.at ?? now) <= since) this.head++;
    while ((this.peaks[this.peakHead]?.at ?? Infinity) <= since) this.peakHead++;
    this.compact();
    const peak = Math.max(this.samples[this.head]?.count ?? count, this.peaks[this.peakHead]?.count ?? count);
    if (this.falls(peak, count)) {
      this.drop = { from: Math.max(peak, this.drop?.from ?? 0), to: count, at: now };
    } else if (this.drop && !this.falls(this.drop.from, count)) {
      // Enough devices came back: the fall is over.
      this.drop = null;
    } else if (this.drop) {
      this.drop = { ...this.drop, to: count };
    }
  }

  /** The fall still being reported, or null. */
  current(): ConnectionDrop | null {
    if (this.drop && this.deps.clock.now() - this.drop.at > this.rule.holdMs) this.drop = null;
    return this.drop ? { ...this.drop } : null;
  }

  private compact(): void {
    if (this.head >= COMPACT_FROM && this.head * 2 >= this.samples.length) {
      this.samples = this.samples.slice(this.head);
      this.head = 0;
    }
    if (this.peakHead >= COMPACT_FROM && this.peakHead * 2 >= this.peaks.length) {
      this.peaks = this.peaks.slice(this.peakHead);
      this.peakHead = 0;
    }
  }

  private falls(peak: number, count: number): boolean {
    const gone = peak - count;
    return gone >= this.rule.minDevices && gone >= peak * this.rule.share;
  }
}

/** One sentence for /healthz and the duty board. */
export function describeDrop(drop: ConnectionDrop, rule: ConnectionDropRule): string {
  const minutes = Math.round(rule.windowMs / 60_000);
  return (
    `connected devices fell from ${drop.from} to ${drop.to} within ${minutes} min at ${new Date(drop.at).toISOString()}: ` +
    'a building may have lost power or network, or devices are being refused at sign-in; those devices cannot raise alarms'
  );
}
