// The broker's device sessions in a cluster: presence claimed and released, wills of sessions taken over elsewhere left alone, and a dead node's wills taken only as hints.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../core/logger.js';
import type { Store } from '../storage/ports.js';
import type { Ingest } from '../ingest/ingest.js';
import { channelUnder } from '../../devices/topics.js';
import { errorMessage } from '../core/errors.js';
import type { BrokerCluster, Presence, ReplayedWill } from './cluster.js';

export interface ReplayedWillDeps {
  cluster: Pick<BrokerCluster, 'holderOf' | 'isAlive' | 'release'>;
  registry: Pick<Store['registry'], 'getDevice'>;
  ingest: Pick<Ingest, 'handle'>;
  log: Logger;
}

export type ReplayedWillOutcome = 'acted' | 'connected_elsewhere' | 'not_a_device_status';

/**
 * A dead node's will reaches a survivor minutes after the node went silent. By then the device has usually reconnected
 * to another node, and the will must not mark it offline: presence says who holds it. A device nobody holds (or only the
 * dead node) is offline indeed, and the will says so as it would have on one node; supervision decides in the end.
 */
export async function handleReplayedWill(deps: ReplayedWillDeps, will: ReplayedWill): Promise<ReplayedWillOutcome> {
  const { cluster, log } = deps;
  const ignored = (): ReplayedWillOutcome => {
    log.info(
      { clientId: will.deviceId, topic: will.topic.slice(0, 200), node: will.brokerId },
      'replayed will ignored: not a device status',
    );
    return 'not_a_device_status';
  };
  // A device's client id is its id: the topic is checked, and presence asked, before the registry is read. In a failover
  // most devices are back on a survivor by the time their will is replayed, and those cost PostgreSQL nothing.
  if (channelUnder(will.deviceId, will.topic) !== 'status') return ignored();
  const connectedElsewhere = async (): Promise<Presence | 'elsewhere' | null> => {
    const holder = await cluster.holderOf(will.deviceId);
    if (!holder || holder.node === will.brokerId || !cluster.isAlive(holder.node)) return holder;
    log.info(
      { deviceId: will.deviceId, deadNode: will.brokerId, node: holder.node },
      'replayed will ignored: the device is connected to a live node',
    );
    return 'elsewhere';
  };
  const holder = await connectedElsewhere();
  if (holder === 'elsewhere') return 'connected_elsewhere';
  const device = await deps.registry.getDevice(will.deviceId);
  if (!device) return ignored();
  if (holder) await cluster.release(device.id, holder.session);
  // Asked again right before the offline is recorded: a device that came back (claimed on a live node) while the registry
  // and Redis were read would otherwise be marked offline after its new session's `online`, and stay offline although
  // connected. Its claim precedes its CONNACK, hence its `online`, so what is left is the turn between this answer and the record.
  if ((await connectedElsewhere()) === 'elsewhere') return 'connected_elsewhere';
  await deps.ingest.handle(device.id, device, 'status', will.payload, {
    remoteAddress: null,
    arrivedHr: performance.now(),
    will: true,
    session: holder?.session ?? `will:${will.brokerId}`,
    dup: false,
  });
  log.info({ deviceId: device.id, deadNode: will.brokerId }, 'replayed will of a dead node acted on');
  return 'acted';
}

/** A device session this node holds, as claimed in presence. */
export interface HeldSession {
  deviceId: string;
  session: string;
  since: number;
}

/** The broker's calls into the cluster, each logging (never throwing) what Redis could not do. */
export class ClusterSessions {
  constructor(private readonly deps: ReplayedWillDeps & { cluster: BrokerCluster }) {}

  /**
   * The device signed in here: claimed before CONNACK, so a node closing its older session elsewhere finds the claim and
   * a dead node's will finds the device held. False when Redis did not take the claim: the caller refuses the CONNECT
   * (server unavailable), since an unclaimed device would be marked offline by such a will while connected here.
   */
  async claim(deviceId: string, session: string): Promise<boolean> {
    try {
      await this.deps.cluster.claim(deviceId, session);
      return true;
    } catch (err) {
      this.deps.log.warn({ deviceId, err: errorMessage(err) }, 'could not claim device presence; CONNECT refused');
      return false;
    }
  }

  /** The connection ended: released only while this session still holds it (after a takeover the other claim stays). */
  release(deviceId: string, session: string): void {
    this.deps.cluster
      .release(deviceId, session)
      .catch((err: unknown) => this.deps.log.warn({ deviceId, err: errorMessage(err) }, 'could not release device presence'));
  }

  /** Throws for a will of a session another node has since taken over (the device moved): it is not acted on. */
  async assertNotTakenOver(deviceId: string, session: string): Promise<void> {
    const holder = await this.deps.cluster.holderOf(deviceId).catch((err: unknown) => {
      // Without an answer the will is taken as on one node: a hint, which supervision confirms or corrects.
      this.deps.log.warn({ deviceId, err: errorMessage(err) }, 'presence unknown for a will; acting on it');
      return null;
    });
    if (holder && holder.session !== session) throw new Error(`will of a session taken over by node ${holder.node} not acted on`);
  }

  /** A will a dead node left, replayed here. */
  async replayed(will: ReplayedWill): Promise<void> {
    await handleReplayedWill(this.deps, will);
  }

  /** Redis came back (perhaps empty, after a restart): this node claims its devices again. */
  async reclaim(held: readonly HeldSession[]): Promise<void> {
    try {
      await this.deps.cluster.reclaim(held);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), devices: held.length }, 'could not claim device presence again');
    }
  }
}
