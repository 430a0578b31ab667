// The gateway under test as a child process: `npm start` in its own process group, with the environment the deployment documents, stopped cleanly or killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from '../common/duration.js';
import { freePort } from '../common/net.js';

export const BANNER = 'care gateway is running';
const KEEP_OUTPUT = 64 * 1024;

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export { freePort };

export interface GatewayChildOptions {
  /** The project root, where `npm start` runs. */
  cwd: string;
  env: Record<string, string>;
}

export class GatewayChild {
  stdout = '';
  stderr = '';
  private child: ChildProcess | null = null;
  private exited: Promise<ChildExit> | null = null;
  private exitInfo: ChildExit | null = null;

  constructor(private readonly opts: GatewayChildOptions) {}

  /** Spawns `npm start` and resolves once the start banner is printed; rejects with its output if it exits or stalls. */
  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn('npm', ['start'], {
      cwd: this.opts.cwd,
      // Only what npm needs from this process's environment: the scenario decides everything else.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...this.opts.env },
      // Its own process group, so a stop reaches npm, sh, tsx and the gateway alike.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout = (this.stdout + chunk).slice(-KEEP_OUTPUT);
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-KEEP_OUTPUT);
    });
    this.exited = new Promise<ChildExit>((resolve) => {
      child.once('error', (err) => {
        this.stderr += `\n${err.message}`;
        resolve({ code: null, signal: null });
      });
      child.once('close', (code, signal) => resolve({ code, signal }));
    }).then((e) => (this.exitInfo = e));

    const deadline = Date.now() + timeoutMs;
    while (!this.stdout.includes(BANNER)) {
      if (this.exitInfo) throw new Error(`the gateway exited (${describeExit(this.exitInfo)}) before it was ready\n${this.stderrTail()}`);
      if (Date.now() > deadline) throw new Error(`the gateway printed no start banner within ${timeoutMs} ms\n${this.stderrTail()}`);
      await sleep(25);
    }
  }

  /** Resolves when the process has ended (never, if it was never spawned). */
  whenExited(): Promise<ChildExit> {
    return this.exited ?? new Promise<ChildExit>(() => undefined);
  }

  /** The exit, once the process has ended on its own or been stopped. */
  get exit(): ChildExit | null {
    return this.exitInfo;
  }

  /** Its own stderr lines (npm's notices left out), last few. */
  stderrTail(lines = 20): string {
    return this.stderr
      .split('\n')
      .filter((l) => l.trim() !== '' && !/^npm (warn|notice|error|info|WARN|ERR!)\b/.test(l))
      .slice(-lines)
      .join('\n');
  }

  /** SIGKILL to the group, now; no waiting. */
  killNow(): void {
    if (this.child?.pid) signalGroup(this.child.pid, 'SIGKILL');
  }

  /** SIGTERM to the group (a clean stop), SIGKILL if it lingers. Safe to call more than once. */
  async stop(graceMs = 8000): Promise<void> {
    const child = this.child;
    if (!child?.pid || !this.exited) return;
    if (!this.exitInfo) {
      signalGroup(child.pid, 'SIGTERM');
      // The grace timer is cancelled once the process is gone, so it cannot keep this process alive.
      const grace = new AbortController();
      const done = await Promise.race([this.exited.then(() => true), sleep(graceMs, grace.signal).then(() => false)]);
      grace.abort();
      if (!done) signalGroup(child.pid, 'SIGKILL');
      await this.exited;
    }
    // npm may be gone while a grandchild lingers; the group id still reaches it.
    signalGroup(child.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

export function describeExit(e: ChildExit): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}
