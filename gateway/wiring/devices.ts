// Wires the device side: the recording guard, the ingest, the MQTT broker, the bridges (zigbee2mqtt, ChirpStack, vendor clouds) and retention.
import { DeviceBroker } from '../broker/broker.js';
import { BrokerCluster } from '../broker/cluster.js';
import { SharedVerifier } from '../broker/shared-verifier.js';
import { loadLinkSecret } from '../http/links.js';
import { DEFAULT_CONNECTION_DROP } from '../broker/connection-watch.js';
import { DemoChirpstackBroker } from '../bridges/chirpstack/demo-stand-in.js';
import { ChirpstackBridges } from '../bridges/chirpstack/service.js';
import { BridgeSink } from '../bridges/sink.js';
import type { DeviceLimits } from '../ingest/device-limits.js';
import { VendorPush } from '../bridges/vendor-push/service.js';
import { Zigbee2mqttAdapter } from '../bridges/zigbee2mqtt/adapter.js';
import { ExternalZigbee2mqtt } from '../bridges/zigbee2mqtt/external.js';
import { Zigbee2mqttOnOurBroker } from '../bridges/zigbee2mqtt/on-our-broker.js';
import { connectionCaps, readSoftFdLimit, type ConnectionCaps } from '../config/connection-budget.js';
import type { AuthLimits } from '../broker/auth.js';
import { ProxyTrust } from '../broker/proxy-protocol.js';
import { Ingest } from '../ingest/ingest.js';
import type { GroupCommitOptions } from '../ingest/group-commit.js';
import { RecordingGuard } from '../ingest/recording-guard.js';
import { RetentionJob } from '../retention/retention.js';
import type { Supervision } from '../supervision/service.js';
import type { LifecycleStep } from './lifecycle.js';
import type { Base } from './base.js';
import { engineOf, failureLedgerOf, retentionRepoOf } from './storage.js';
import { SharedFailures } from '../lockouts/shared.js';

/** Failures older than this matter to no limiter (device sign-ins count over 10 min, dashboard sign-ins over 15). */
const SHARED_FAILURES_WINDOW_MS = 60 * 60_000;

export interface DeviceParts {
  /** Whether events can be committed (else /healthz is 503), and the free-space reserve kept for alarms. */
  recording: RecordingGuard;
  ingest: Ingest;
  /** Where zigbee2mqtt, ChirpStack and vendor-cloud bridges hand their devices' messages to the ingest. */
  bridgeSink: BridgeSink;
  /** ChirpStack (LoRaWAN) bridges: a client per bridge on ChirpStack's broker, and downlinks for their devices. */
  chirpstack: ChirpstackBridges;
  /** zigbee2mqtt payloads to our events (edges, availability, coordinator outages), whichever broker they come over. */
  zigbee2mqtt: Zigbee2mqttAdapter;
  /** zigbee2mqtt bridges on their own broker: the gateway subscribes to each. */
  zigbee2mqttExternal: ExternalZigbee2mqtt;
  /** Vendor-cloud HTTP pushes (OneNET, HMAC-signed) for `http` bridges, recorded through the bridge sink. */
  vendorPush: VendorPush;
  /** Prunes raw device events and rejections past EVENT_RETENTION_DAYS, once a day. */
  retention: RetentionJob;
  /** HTTP and MQTT socket caps, each well inside the open-file limit. */
  connectionCaps: ConnectionCaps;
  broker: DeviceBroker;
  /** Sign-in failures shared with the other nodes (PostgreSQL), for the device and the dashboard lockouts; null on SQLite. */
  sharedFailures: SharedFailures | null;
}

/** The device edge's tunables that no setting exposes (tests tighten them); each defaults to the part's own. */
export interface EdgeTuning {
  groupCommit?: GroupCommitOptions;
  /** How often device health (last seen, battery) is written to the database. */
  healthFlushMs?: number;
  /** Back-off for failed device sign-ins, per device and per address. */
  authLimits?: AuthLimits;
  maxFrameBytes?: number;
  /** Each bridge's limits on everything but alarms (default: the bridge sink's BRIDGE_LIMITS). */
  bridgeLimits?: DeviceLimits;
}

export interface DeviceWiring extends Base {
  /** Supervision is wired after the devices (it pages through the SMS side); a lost bridge reaches it at call time. */
  outages: () => Pick<Supervision, 'bridgeLost'>;
  edge?: EdgeTuning;
}

export function wireDevices(w: DeviceWiring): DeviceParts {
  const { config, store, bus, metrics, clock, log } = w;
  const edge = w.edge ?? {};
  const storage = config.storage;
  const probe = (): Promise<void> => store.registry.setSetting('storage.write_probe', String(clock.now()));
  // The reserve keeps DATA_DIR's disk free for SQLite's alarm writes. On PostgreSQL no record is written there, so
  // shedding heartbeats for DATA_DIR's free space would drop data to protect nothing: the server's disk is watched there.
  const onPostgres = engineOf(store) === 'postgresql';
  if (onPostgres && storage.reserveBytes > 0) {
    log.info(
      { part: 'storage', diskReserveMb: storage.reserveBytes / (1024 * 1024) },
      "DISK_RESERVE_MB applies to the SQLite store only: on PostgreSQL heartbeats are never shed for DATA_DIR's free space; watch the database server's disk",
    );
  }
  const recording = new RecordingGuard({
    dataDir: config.dataDir,
    reserveBytes: onPostgres ? 0 : storage.reserveBytes,
    probe,
    clock,
    log: log.child({ part: 'storage' }),
  });
  const ingest = new Ingest({
    store,
    bus,
    clock,
    log: log.child({ part: 'ingest' }),
    dedupeWindowMs: config.mqtt.redeliveryWindowMs,
    guard: recording,
    limits: storage.deviceLimits,
    onDropped: (reason) => metrics.deviceMessagesDropped.inc({ reason }),
    ...(edge.groupCommit ? { groupCommit: edge.groupCommit } : {}),
    ...(edge.healthFlushMs ? { healthFlushMs: edge.healthFlushMs } : {}),
  });
  const bridgeSink = new BridgeSink({
    ingest,
    registry: store.registry,
    store,
    bus,
    clock,
    log: log.child({ part: 'bridges' }),
    ...(edge.bridgeLimits ? { limits: edge.bridgeLimits } : {}),
  });
  const bridgeLost: Supervision['bridgeLost'] = (bridgeId, deviceIds, at) => w.outages().bridgeLost(bridgeId, deviceIds, at);
  const chirpstack = new ChirpstackBridges({
    registry: store.registry,
    sink: {
      device: (bridgeId, externalId, source, payload) => bridgeSink.device(bridgeId, externalId, source, payload),
      accept: (device, msg) => bridgeSink.accept(device, msg),
      rejectBridged: (rejection, alive) => ingest.rejectBridged(rejection, alive),
    },
    supervision: {
      bridgeLost,
      devicesLost: (devices, at) => {
        const heard = devices.filter((d) => ingest.healthOf(d.id)?.state !== 'offline');
        bridgeSink.lost(heard, at);
        return heard;
      },
      devicesBack: (devices, at) => {
        for (const d of devices) ingest.markState(d.id, 'online', at);
      },
    },
    clock,
    log: log.child({ part: 'chirpstack' }),
  });
  const zigbee2mqtt = new Zigbee2mqttAdapter({
    sink: bridgeSink,
    registry: store.registry,
    levels: store.bridgeLevels,
    outages: { bridgeLost },
    clock,
    log: log.child({ part: 'zigbee2mqtt' }),
  });
  const zigbee2mqttExternal = new ExternalZigbee2mqtt({
    registry: store.registry,
    adapter: zigbee2mqtt,
    clock,
    log: log.child({ part: 'zigbee2mqtt' }),
  });
  const retention = new RetentionJob({
    repo: retentionRepoOf(store),
    clock,
    log: log.child({ part: 'retention' }),
    retentionDays: storage.retentionDays,
    slots: w.slots,
  });
  const caps = connectionCaps({ http: config.http.maxConnections, mqtt: config.mqtt.maxConnections }, readSoftFdLimit());
  // REDIS_URL: several nodes share the broker's state (connected when the broker starts) and the secrets they verified,
  // under a key from the link secret every node holds (read here as paging reads it; Redis never sees it).
  const cluster = config.cluster ? new BrokerCluster({ config: config.cluster, clock, log: log.child({ part: 'cluster' }) }) : null;
  const sharedVerifier = cluster
    ? new SharedVerifier({
        connection: () => cluster.storeConnection(),
        linkSecret: loadLinkSecret(config),
        clock,
        log: log.child({ part: 'shared-verifier' }),
        count: (outcome) => metrics.deviceSecretCache.inc({ outcome }),
      })
    : null;
  const broker = new DeviceBroker({
    store,
    ingest,
    bus,
    clock,
    log: log.child({ part: 'broker' }),
    ...(config.deviceDrop ? { connectionDrop: { ...DEFAULT_CONNECTION_DROP, ...config.deviceDrop } } : {}),
    maxConnections: caps.mqtt,
    onConnectionRefused: () => metrics.connectionsRefused.inc({ listener: 'mqtt' }),
    onConnectRefused: (reason) => metrics.connectsRefused.inc({ reason }),
    bridges: new Zigbee2mqttOnOurBroker({ registry: store.registry, adapter: zigbee2mqtt, log: log.child({ part: 'zigbee2mqtt' }) }),
    ...(edge.authLimits ? { authLimits: edge.authLimits } : {}),
    ...(edge.maxFrameBytes ? { maxFrameBytes: edge.maxFrameBytes } : {}),
    cluster,
    sharedVerifier,
    // Behind HAProxy: the device's own address (for the sign-in lockouts and security events) comes from its PROXY header.
    proxyTrust: config.mqtt.proxyFrom ? new ProxyTrust(config.mqtt.proxyFrom) : null,
  });
  // Nodes on one PostgreSQL share their sign-in failures: a device guessing through three nodes meets one lockout.
  const ledger = failureLedgerOf(store);
  const sharedFailures = ledger
    ? new SharedFailures({ ledger, clock, log: log.child({ part: 'lockouts' }), windowMs: SHARED_FAILURES_WINDOW_MS })
    : null;
  sharedFailures?.attach('mqtt', broker.authFailures);
  const vendorPush = new VendorPush({
    bridges: store.registry,
    sink: bridgeSink,
    store,
    bus,
    clock,
    log: log.child({ part: 'vendor-push' }),
  });
  return {
    recording,
    ingest,
    bridgeSink,
    chirpstack,
    zigbee2mqtt,
    zigbee2mqttExternal,
    vendorPush,
    retention,
    connectionCaps: caps,
    broker,
    sharedFailures,
  };
}

/**
 * The generated demo's ChirpStack bridge gets an in-process stand-in for ChirpStack's broker (null for a registry file,
 * or before the registry is loaded).
 */
/**
 * The lifecycle step of the generated demo's in-process stand-in for ChirpStack's broker; a registry file never gets
 * one. `source` is read when the step starts, after the registry step.
 */
export function demoStandInStep(w: Pick<Base, 'store' | 'log'>, source: () => 'file' | 'demo' | 'database' | undefined): LifecycleStep {
  let standIn: DemoChirpstackBroker | null = null;
  return {
    name: 'demo chirpstack broker',
    start: async () => {
      const from = source();
      if (!from) return;
      const bridges = await w.store.registry.listBridges();
      standIn = await DemoChirpstackBroker.startFor({ source: from, bridges, log: w.log.child({ part: 'demo-chirpstack' }) });
    },
    stop: () => standIn?.stop(),
  };
}

/** After a registry import at runtime: connected devices and bridges pick up their new records (or are dropped). */
export async function devicesChanged(w: Pick<Base, 'store' | 'log' | 'bus'>, parts: DeviceParts): Promise<void> {
  const { store, log, bus } = w;
  const dropped = parts.broker.refreshDevices(await store.registry.listDevices());
  await parts.chirpstack.reload();
  await parts.zigbee2mqttExternal.reload();
  const bridgeSecrets = new Map<string, string>();
  for (const b of await store.registry.listBridges())
    if (b.kind === 'zigbee2mqtt' && b.url === undefined && b.secretHash !== undefined) bridgeSecrets.set(b.id, b.secretHash);
  dropped.push(...parts.broker.refreshBridges(bridgeSecrets));
  log.info({ devicesDisconnected: dropped.length }, 'registry changed at runtime');
  bus.emit('registryChanged');
}
