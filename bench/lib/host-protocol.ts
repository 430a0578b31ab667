// Messages between a benchmark and its broker-host child process (a bare aedes or the gateway, alone in a process so its memory can be measured).

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
  | { id: number; type: 'started'; mqttPort: number; registryImported: boolean | null }
  | { id: number; type: 'clients'; connected: number; refused: number; openFds: number | null }
  | { id: number; type: 'memory'; memory: MemorySample }
  | { id: number; type: 'ok' }
  | { id: number; type: 'error'; message: string };
