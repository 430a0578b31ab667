// A server binary (mosquitto, influxd) run as a child process: started, watched, signalled and waited for, with the
// tail of its stderr kept for error messages, and killed if this process exits first.
import { spawn, type ChildProcess } from 'node:child_process';

export class ServerProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> | null = null;
  private stderr = '';
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  /** `name` appears in error messages ("mosquitto exited during start: …"). */
  constructor(private readonly name: string) {}

  get running(): boolean {
    return this.child !== null;
  }

  /** The last 4,000 characters the server wrote to stderr, or "no output". */
  get stderrTail(): string {
    return this.stderr.trim() || 'no output';
  }

  spawn(binary: string, args: string[]): void {
    this.stderr = '';
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    process.once('exit', this.killOnExit);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        process.removeListener('exit', this.killOnExit);
        resolve();
      });
      child.once('error', (err) => {
        this.stderr += `\n${err.message}`;
      });
    });
  }

  /** Sends a signal without waiting (SIGUSR1 asks mosquitto to save); false when nothing runs. */
  notify(sig: NodeJS.Signals): boolean {
    return this.child?.kill(sig) ?? false;
  }

  /** Sends `sig` and waits for the exit, with SIGKILL after 5 s. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.exited) return;
    const exited = this.exited;
    child.kill(sig);
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    this.child = null;
  }

  /** Polls `ready` until it is true; throws when the server exits first or the time runs out. */
  async waitUntil(ready: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.child) throw new Error(`${this.name} exited during start: ${this.stderrTail}`);
      if (await ready()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`${this.name} did not ${what} within ${timeoutMs} ms: ${this.stderrTail}`);
  }
}
