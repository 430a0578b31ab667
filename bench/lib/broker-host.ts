// Runs a bare aedes or the gateway alone in a child process (with --expose-gc and a raised open-files limit), so its memory is measured without the benchmark's own.
import { fileURLToPath } from 'node:url';
import { ChildRpc, isNumberedMessage } from './child-rpc.js';
import { type HostMode, type HostReply, type HostRequest, type MemorySample } from './host-protocol.js';
import { DEVICE_LIMITS_OFF } from './limits.js';
import { readCounterByLabel } from './prometheus.js';

/**
 * The environment of one gateway on SQLite (in a broker host, or in the benchmark's own process): both ports on
 * loopback (chosen by the kernel), its data and seeded registry, no log, and the per-device limits off; `extra` adds or
 * overrides variables.
 */
export function sqliteGatewayEnv(dataDir: string, registryFile: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MQTT_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    REGISTRY_FILE: registryFile,
    TZ: 'Asia/Shanghai',
    LOG_LEVEL: 'silent',
    ...DEVICE_LIMITS_OFF,
    ...extra,
  };
}

const CHILD = fileURLToPath(new URL('./broker-host-child.ts', import.meta.url));

export interface BrokerHostDeps {
  /** Open-files limit of the host process (one socket per device, plus SQLite's files). */
  openFiles: number;
  replyTimeoutMs?: number;
}

export class BrokerHost {
  private readonly rpc: ChildRpc<HostRequest, HostReply>;
  private httpPort: number | null = null;

  constructor(deps: BrokerHostDeps) {
    this.rpc = new ChildRpc({
      name: 'broker host',
      script: CHILD,
      openFiles: deps.openFiles,
      extraExecArgv: ['--expose-gc'],
      replyTimeoutMs: deps.replyTimeoutMs ?? 120_000,
      isReply: isNumberedMessage<HostReply>,
    });
  }

  /** Starts the process and the broker in it; resolves with its MQTT port and, for the gateway, whether it imported the registry. */
  async start(mode: HostMode, env: Record<string, string> = {}): Promise<{ mqttPort: number; registryImported: boolean | null }> {
    this.rpc.start();
    const reply = this.rpc.expect(await this.rpc.request({ type: 'start', mode, env }), 'started');
    this.httpPort = reply.httpPort;
    return { mqttPort: reply.mqttPort, registryImported: reply.registryImported };
  }

  /** The gateway's CONNECT refusals by reason, read from its own /metrics (mqtt_connects_refused_total); {} for a bare aedes. */
  async connectRefusals(): Promise<Record<string, number>> {
    return (await this.scrape())?.refusals ?? {};
  }

  /**
   * One read of the gateway's /metrics (null for a bare aedes): its CONNECT refusals by reason, and its event-loop lag
   * (max and p99, seconds) since the previous read, or since start for the first: prom-client starts them afresh at each.
   */
  async scrape(): Promise<{ refusals: Record<string, number>; loopLagMaxS: number | null; loopLagP99S: number | null } | null> {
    if (this.httpPort === null) return null;
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`);
    if (!res.ok) throw new Error(`broker host /metrics answered ${res.status}`);
    const text = await res.text();
    const gauge = (name: string): number | null => {
      const value = Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
      return Number.isFinite(value) ? value : null;
    };
    return {
      refusals: readCounterByLabel(text, 'mqtt_connects_refused_total', 'reason'),
      loopLagMaxS: gauge('nodejs_eventloop_lag_max_seconds'),
      loopLagP99S: gauge('nodejs_eventloop_lag_p99_seconds'),
    };
  }

  async connected(): Promise<number> {
    const reply = await this.rpc.request({ type: 'clients' });
    return reply.type === 'clients' ? reply.connected : 0;
  }

  /** Devices connected, MQTT connections refused at the gateway's cap so far, and descriptors the process holds. */
  async clients(): Promise<{ connected: number; refused: number; openFds: number | null }> {
    const reply = this.rpc.expect(await this.rpc.request({ type: 'clients' }), 'clients');
    return { connected: reply.connected, refused: reply.refused, openFds: reply.openFds };
  }

  /** The host's memory after full garbage collections. */
  async memory(): Promise<MemorySample> {
    return this.rpc.expect(await this.rpc.request({ type: 'memory' }), 'memory').memory;
  }

  /** Stops the broker and the process. */
  stop(): Promise<void> {
    return this.rpc.stop({ type: 'stop' }, 10_000);
  }
}
