// Test presses: the test windows set from the dashboard or the API, the presses recorded in them, and their repository port.

/** What a test window covers: one device, or every device of the residents of one building of a community. */
export type TestScope = { kind: 'device'; deviceId: string } | { kind: 'building'; communityId: string; building: string };

/** Why a window closed: it ran out, or a person ended it early. */
export type TestWindowEnd = 'expired' | 'ended_by_hand';

/** A window in which alarm presses of its scope are tests; who set it and who ended it are its audit record. */
export interface TestWindow {
  id: string;
  scope: TestScope;
  /** The community the scope lies in (for role scoping). */
  communityId: string;
  startedAt: number;
  endsAt: number;
  startedBy: string;
  /** When it closed; null while it runs. */
  endedAt: number | null;
  endedBy: string | null;
  endReason: TestWindowEnd | null;
  note: string | null;
}

/** One alarm press taken as a test. */
export interface TestPress {
  deviceId: string;
  residentId: string;
  windowId: string;
  incidentId: string;
  eventId: number;
  at: number;
}

export interface TestPressRepo {
  insertWindow(window: TestWindow): Promise<void>;
  getWindow(id: string): Promise<TestWindow | null>;
  /** Closes a running window; null when unknown or already closed. */
  endWindow(id: string, at: number, by: string, reason: TestWindowEnd): Promise<TestWindow | null>;
  /** Windows still running (not closed), oldest first, whether or not their end has passed. */
  listRunning(): Promise<TestWindow[]>;
  /** Newest first. */
  listWindows(filter: { communityId?: string; limit: number }): Promise<TestWindow[]>;
  /**
   * The window in force at `at` for this device or its resident's building: started at or before `at`, ending after
   * it, and not closed before it. Ended windows count for presses inside them (a press replayed after a crash).
   */
  windowAt(deviceId: string, communityId: string, building: string | null, at: number): Promise<TestWindow | null>;
  recordPress(press: TestPress): Promise<void>;
  /** The latest test press of each device that has one. */
  lastPressByDevice(): Promise<Map<string, number>>;
  /** The test incidents opened in this window and still active. */
  activeIncidentsOf(windowId: string): Promise<string[]>;
  /** Links a test incident to the window it was opened in. */
  linkIncident(windowId: string, incidentId: string): Promise<void>;
}

/** Default and bounds of a test window, in minutes. */
export const TEST_WINDOW_DEFAULT_MINUTES = 30;
export const TEST_WINDOW_MIN_MINUTES = 1;
export const TEST_WINDOW_MAX_MINUTES = 240;
/** JGJ/T 484-2019 §10.3.1: alarm buttons are checked weekly. */
export const TEST_INTERVAL_DAYS = 7;
