// Messages between a benchmark and its broker-host child process (a bare aedes or the gateway, alone in a process so its memory can be measured).

/** A gateway host's environment variable naming the file it logs to (at its LOG_LEVEL, warn when silent or unset); absent: no log. */
export const HOST_LOG_FILE = 'BENCH_HOST_LOG_FILE';

export type HostMode = 'aedes' | 'gateway';

export type HostRequest =
  | { id: number; type: 'start'; mode: HostMode; env: Record<string, string> }
  | { id: number; type: 'clients' }
  | { id: number; type: 'memory' }
  | { id: number; type: 'stop' };

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export type HostReply =
  | { id: number; type: 'started'; mqttPort: number; httpPort: number | null; registryImported: boolean | null }
  | { id: number; type: 'clients'; connected: number; refused: number; openFds: number | null }
  | { id: number; type: 'memory'; memory: MemorySample }
  | { id: number; type: 'ok' }
  | { id: number; type: 'error'; message: string };
