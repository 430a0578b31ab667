// The port for when each device's last session started, so an ended incident is re-told only to a device that has not connected since.
export interface SessionStartRepo {
  /** Records `at` as the device's latest session start and returns the one before it (null for its first). */
  swapStart(deviceId: string, at: number): Promise<number | null>;
}
