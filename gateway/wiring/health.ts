// The /healthz report assembled from each part's own health component and the alarm-path rule in core/health.ts.
import { alarmsOk, type HealthReport } from '../core/health.js';
import { smsHealthComponent } from '../notifiers/setup.js';
import { withRecording } from '../ingest/recording-guard.js';
import { supervisionHealthComponent } from '../supervision/health.js';
import { influxHealth } from '../telemetry/health.js';
import type { Base } from './base.js';
import type { CareParts } from './care.js';
import type { DeviceParts } from './devices.js';
import type { IncidentParts } from './incidents.js';
import type { ObserverParts } from './observers.js';
import type { PagingParts } from './paging.js';
import { databaseComponent } from './storage.js';

export type HealthWiring = Pick<Base, 'store' | 'metrics'> &
  Pick<DeviceParts, 'broker' | 'recording' | 'chirpstack' | 'connectionCaps'> &
  Pick<PagingParts, 'dispatcher'> &
  Pick<IncidentParts, 'processor' | 'voice'> &
  Pick<CareParts, 'supervision'> &
  Pick<ObserverParts, 'telemetry'>;

export async function gatewayHealth(w: HealthWiring): Promise<HealthReport> {
  const { store, recording } = w;
  let dbUp = await store.ping();
  const sms = w.dispatcher.health();
  const backlog = w.processor.backlog();
  // A database server that is down (PostgreSQL) cannot be asked: the report still names every part, the database down.
  let unassigned = 0;
  if (dbUp) {
    try {
      unassigned = await store.incidents.countUnassigned();
      w.metrics.unassignedIncidents.set(unassigned);
    } catch {
      dbUp = false;
    }
  }
  const cluster = w.broker.clusterHealth();
  return {
    alarmsOk: alarmsOk({ databaseUp: dbUp, signalFailures: backlog.failures, recording: recording.recording, smsProviders: sms.providers }),
    unassignedIncidents: unassigned,
    components: {
      broker: { ...w.broker.health(), sockets: w.broker.socketCount(), maxSockets: w.connectionCaps.mqtt, devices: w.broker.deviceCount() },
      // REDIS_URL: this node's id, its Redis and the devices it holds (alarms are still recorded while Redis is away).
      ...(cluster ? { cluster } : {}),
      database: withRecording(databaseComponent(store, dbUp), recording.state()),
      sms: smsHealthComponent(sms),
      signals: { status: backlog.failures > 0 ? 'degraded' : 'up', ...backlog },
      influxdb: influxHealth(w.telemetry.health()),
      supervision: supervisionHealthComponent(w.supervision.health()),
      chirpstack: w.chirpstack.health(),
      ...(w.voice ? { voice: w.voice.health() } : {}),
    },
  };
}
