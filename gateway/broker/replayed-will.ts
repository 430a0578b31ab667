// What a will left by a dead node means: only a hint that its device is gone, acted on unless the device is connected to a live node now.
import { performance } from 'node:perf_hooks';
import type { Logger } from '../core/logger.js';
import type { Store } from '../storage/ports.js';
import type { Ingest } from '../ingest/ingest.js';
import { channelUnder } from '../../devices/topics.js';
import type { BrokerCluster, ReplayedWill } from './cluster.js';

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
  const device = await deps.registry.getDevice(will.deviceId);
  if (!device || channelUnder(device.id, will.topic) !== 'status') {
    log.info(
      { clientId: will.deviceId, topic: will.topic.slice(0, 200), node: will.brokerId },
      'replayed will ignored: not a device status',
    );
    return 'not_a_device_status';
  }
  const holder = await cluster.holderOf(device.id);
  if (holder && holder.node !== will.brokerId && cluster.isAlive(holder.node)) {
    log.info(
      { deviceId: device.id, deadNode: will.brokerId, node: holder.node },
      'replayed will ignored: the device is connected to a live node',
    );
    return 'connected_elsewhere';
  }
  if (holder) await cluster.release(device.id, holder.session);
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
