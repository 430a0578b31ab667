// The new-alarm sound: a beep made with WebAudio in code (no audio file to fetch, nothing for the CSP to allow).

export class AlarmSound {
  private ctx: AudioContext | null = null;
  /** How many beeps were started; shown as data-beeps on the board for tests and for the curious. */
  played = 0;

  /** Browsers start audio only after a user gesture: call this from a click to unlock it. */
  unlock(): void {
    this.context();
    void this.ctx?.resume();
  }

  /** True when the browser still blocks sound (no click on the page yet). */
  blocked(): boolean {
    return !this.ctx || this.ctx.state !== 'running';
  }

  /** Three short high beeps: distinct from a phone's ring, audible across a station room. */
  play(): void {
    const ctx = this.context();
    if (!ctx) return;
    this.played++;
    void ctx.resume().catch(() => undefined);
    const start = ctx.currentTime + 0.02;
    for (let i = 0; i < 3; i++) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'square';
      osc.frequency.value = 1175; // D6: cuts through room noise
      const t0 = start + i * 0.28;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.25, t0 + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.2);
    }
  }

  close(): void {
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
  }

  private context(): AudioContext | null {
    if (this.ctx) return this.ctx;
    if (typeof AudioContext === 'undefined') return null;
    this.ctx = new AudioContext();
    return this.ctx;
  }
}
