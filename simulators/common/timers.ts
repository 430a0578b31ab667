// The timers of a simulator that its stop() cancels: the pauses between a message's states, the delays before its pushes.

export class SimTimers {
  private readonly pending = new Set<NodeJS.Timeout>();

  /** Runs `fn` after `ms`, unless cleared first. The timer never keeps the process alive. */
  after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.pending.delete(t);
      fn();
    }, ms);
    t.unref();
    this.pending.add(t);
  }

  /** Resolves after `ms`; once cleared it never resolves (the simulator is stopping, nothing should go on). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  clear(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}
