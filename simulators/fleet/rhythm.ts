// The day of an older person living alone, as motion sensors see it: quiet nights, a busy morning, a nap, an evening, and a simulated clock that can run faster than real time.

// Share of the peak motion rate at each local hour 0..23: up at six, breakfast and the market in the morning,
// a nap after lunch, cooking and television in the evening, a trip to the bathroom or two at night.
const HOURLY = [
  0.05, 0.04, 0.06, 0.03, 0.03, 0.1, 0.45, 0.9, 1, 0.85, 0.7, 0.75, 0.6, 0.3, 0.25, 0.45, 0.6, 0.8, 0.9, 0.75, 0.55, 0.3, 0.15, 0.08,
] as const;

/** Share (0..1) of the peak motion rate at a local time of day in hours (fractions interpolate). */
export function motionShare(hourOfDay: number): number {
  const h = ((hourOfDay % 24) + 24) % 24;
  const i = Math.floor(h);
  const a = HOURLY[i] ?? 0;
  const b = HOURLY[(i + 1) % 24] ?? 0;
  return a + (b - a) * (h - i);
}

/** Local hour of day (with fraction) of `ms` in `timeZone`. */
export function localHour(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(ms);
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') + get('minute') / 60 + get('second') / 3600;
}

/**
 * The simulated clock: starts at the real local time (or `startHour`) and runs `speed` times faster, so a whole
 * day's rhythm (and battery drain) can be watched in minutes.
 */
export class SimulatedDay {
  private readonly startHour: number;

  constructor(private readonly opts: { realStart: number; speed: number; timeZone: string; startHour?: number }) {
    this.startHour = opts.startHour ?? localHour(opts.realStart, opts.timeZone);
  }

  /** Simulated local hour of day at real time `now`. */
  hourAt(now: number): number {
    return (this.startHour + this.simulatedHours(now)) % 24;
  }

  /** Simulated hours elapsed at real time `now`. */
  simulatedHours(now: number): number {
    return ((now - this.opts.realStart) / 3_600_000) * this.opts.speed;
  }
}

/** Battery after `hours` of drain at `percentPerHour`, never below 0. */
export function drained(battery: number, hours: number, percentPerHour: number): number {
  return Math.max(0, battery - hours * percentPerHour);
}

/** Battery levels at which a fixture reports `low_battery` once each, as it crosses them going down. */
export const LOW_BATTERY_LEVELS = [20, 10, 5] as const;

/** The lowest threshold crossed between `before` and `after`, or null. */
export function crossedLowLevel(before: number, after: number): number | null {
  const crossed = LOW_BATTERY_LEVELS.filter((level) => before > level && after <= level);
  return crossed.length > 0 ? Math.min(...crossed) : null;
}
