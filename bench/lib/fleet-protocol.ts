// Messages between a cluster benchmark and a device-fleet process: devices that stay connected, reconnect by themselves, and report when they did.

export interface FleetDevice {
  id: string;
  secret: string;
}

export interface FleetConnect {
  id: number;
  type: 'connect';
  /** Device i connects to urls[i % urls.length] (a balancer or a node), from localAddresses[i % n] (spread over 127.0.0.0/8). */
  urls: string[];
  localAddresses: string[];
  devices: FleetDevice[];
  /** Handshakes in flight at once while connecting. */
  concurrency: number;
  /** mqtt.js reconnectPeriod: the wait after a lost connection (and after each failed attempt) before trying again; 0 = none. */
  reconnectPeriodMs: number;
  keepaliveS: number;
  /**
   * As firmware does: a first connect that fails (a CONNACK refusal, a reset) is tried again after `delayMs`, doubled
   * at each try, `tries` more times at most. Absent: no retry (reconnectPeriodMs then decides).
   */
  retry?: { tries: number; delayMs: number };
  /** Each device leaves a retained `offline` will on care/v1/<id>/status and publishes a retained `online` after every CONNACK, as the firmware does. */
  presence: boolean;
}

export type FleetRequest =
  | FleetConnect
  /** `times`: with each reconnect's CONNACK time (reconnectAts), which only the final status needs; a poll leaves them out. */
  | { id: number; type: 'status'; times: boolean }
  | { id: number; type: 'mark' }
  | { id: number; type: 'publish'; device: string; topic: string; payload: string }
  | { id: number; type: 'close' };

/** Counts since the last `mark` (or the connect), and machine-wide monotonic times in ms (lib/monotonic.ts). */
export interface FleetStatus {
  devices: number;
  connected: number;
  /** Devices that lost their connection since the mark and have a new one now. */
  reconnected: number;
  /** Connections lost since the mark. */
  lost: number;
  /** Connection attempts that ended before a CONNACK since the mark (refused by a dead node behind the balancer, or by the gateway). */
  failedAttempts: number;
  /** When the last device that reconnected got its CONNACK; 0 if none did. */
  lastReconnectAt: number;
  firstLossAt: number;
  /** The retained `online` status PUBLISHes after a reconnect that were acknowledged. */
  onlineAcked: number;
  /** Devices whose first connect was held at its first attempt, and after one or more retries (FleetConnect.retry). */
  heldFirstAttempt: number;
  heldAfterRetry: number;
  /** Devices that used every retry of their first connect and were never held. */
  gaveUp: number;
  /** Why attempts failed since the mark: the client's error message (a CONNACK refusal, ECONNRESET…) or 'closed' when it gave none. */
  failures: Record<string, number>;
  /** Each reconnect's CONNACK since the mark (monotonic ms), for the spread of reconnect times; empty unless asked for. */
  reconnectAts: number[];
}

export type FleetReply =
  | { id: number; type: 'connected'; count: number; ms: number }
  | ({ id: number; type: 'status' } & FleetStatus)
  | { id: number; type: 'published'; sentAt: number; ackAt: number }
  | { id: number; type: 'ok' }
  | { id: number; type: 'error'; message: string };
