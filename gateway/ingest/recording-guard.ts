// Can alarms still be recorded? Tracks the event recorder's last commit, probes a failing disk, and keeps a free-space reserve for alarms.
import { statfs } from 'node:fs/promises';
import { errorMessage } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';

export interface RecordingGuardDeps {
  /** The folder whose file system holds the database (DATA_DIR). */
  dataDir: string;
  /** Free space kept for alarms: below it, bulk writes (heartbeats, the rejection log) are shed. 0: no reserve. */
  reserveBytes: number;
  /** A small durable write: succeeds once the database can commit again. */
  probe: () => Promise<void>;
  clock: Clock;
  log: Logger;
  /** Free bytes for an unprivileged writer on the file system of `dir` (default: statfs). */
  freeBytes?: (dir: string) => Promise<number>;
  /** How often free space is read and, while commits fail, the probe runs (default 5 s). */
  checkIntervalMs?: number;
}

/** What /healthz shows of the recorder. */
export interface RecordingState {
  /** False from a failed event commit until a later commit or probe succeeds: alarms cannot be recorded nor acknowledged. */
  recording: boolean;
  /** The failed commit's error while `recording` is false. */
  lastError: string | null;
  failingSince: number | null;
  /** Free bytes in DATA_DIR at the last check (null before the first, or when it could not be read). */
  freeBytes: number | null;
  reserveBytes: number;
  /** True while free space is below the reserve: heartbeats and the rejection log are not written. */
  shedding: boolean;
}

const DEFAULT_CHECK_INTERVAL_MS = 5000;

export class RecordingGuard {
  private failure: { error: string; since: number } | null = null;
  private free: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(private readonly deps: RecordingGuardDeps) {}

  /** Reads free space once, then checks periodically (a real timer: it polls the disk, it is no part of domain time). */
  async start(): Promise<void> {
    if (this.timer) return;
    await this.check();
    this.timer = setInterval(() => void this.check(), this.deps.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
  }

  /** An event commit reached the disk: alarms are recordable (again). */
  committed(): void {
    if (!this.failure) return;
    this.deps.log.info({ failedFor: this.deps.clock.now() - this.failure.since }, 'event commits succeed again: alarms are recorded');
    this.failure = null;
  }

  /** An event commit (or its sync) failed: alarms are not recordable until a commit or the probe succeeds. */
  commitFailed(err: unknown): void {
    const error = errorMessage(err);
    if (!this.failure)
      this.deps.log.error({ err: error }, 'event commit failed: ALARMS CANNOT BE RECORDED until the disk takes writes again');
    this.failure = { error, since: this.failure?.since ?? this.deps.clock.now() };
  }

  get recording(): boolean {
    return this.failure === null;
  }

  /** True while free space is below the reserve: only writes that matter for alarms go to the disk. */
  get shedding(): boolean {
    return this.free !== null && this.free < this.deps.reserveBytes;
  }

  state(): RecordingState {
    return {
      recording: this.recording,
      lastError: this.failure?.error ?? null,
      failingSince: this.failure?.since ?? null,
      freeBytes: this.free,
      reserveBytes: this.deps.reserveBytes,
      shedding: this.shedding,
    };
  }

  /** Reads free space, and while commits fail tries the probe write; one check at a time. */
  check(): Promise<void> {
    this.checking ??= this.runCheck().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async runCheck(): Promise<void> {
    const wasShedding = this.shedding;
    try {
      this.free = await (this.deps.freeBytes ?? freeBytesOf)(this.deps.dataDir);
    } catch (err) {
      this.free = null;
      this.deps.log.warn({ err: errorMessage(err), dir: this.deps.dataDir }, 'could not read free disk space');
    }
    if (this.shedding !== wasShedding) {
      const mb = { freeMb: mbOf(this.free ?? 0), reserveMb: mbOf(this.deps.reserveBytes) };
      if (this.shedding)
        this.deps.log.error(mb, 'disk space below the alarm reserve: heartbeats and the rejection log are no longer written');
      else this.deps.log.info(mb, 'disk space back above the alarm reserve');
    }
    if (!this.failure) return;
    try {
      await this.deps.probe();
      this.committed();
    } catch (err) {
      this.commitFailed(err);
    }
  }
}

async function freeBytesOf(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

export function mbOf(bytes: number): number {
  return Math.round((bytes / (1024 * 1024)) * 10) / 10;
}

/** The shape of a /healthz component, kept here so the ingest does not depend on the HTTP layer. */
export interface HealthComponent {
  status: 'up' | 'degraded' | 'down' | 'disabled';
  detail?: string;
  [key: string]: unknown;
}

/**
 * The database component with the recorder's state laid over it: down while event commits fail (alarms cannot be
 * recorded, so /healthz answers 503), degraded while heartbeats are shed below the free-space reserve.
 */
export function withRecording(database: HealthComponent, s: RecordingState): HealthComponent {
  const facts = {
    recording: s.recording,
    freeMb: s.freeBytes === null ? null : mbOf(s.freeBytes),
    reserveMb: mbOf(s.reserveBytes),
    shedding: s.shedding,
  };
  if (!s.recording) {
    const since = s.failingSince === null ? '' : ` since ${new Date(s.failingSince).toISOString()}`;
    return {
      ...database,
      ...facts,
      status: 'down',
      detail: `event commits fail${since} (${s.lastError ?? 'unknown error'}): ALARMS CANNOT BE RECORDED`,
    };
  }
  if (s.shedding && database.status === 'up') {
    const detail = `free space ${facts.freeMb ?? '?'} MB is below the ${facts.reserveMb} MB kept for alarms: heartbeats and the rejection log are not written`;
    return { ...database, ...facts, status: 'degraded', detail };
  }
  return { ...database, ...facts };
}
