// Where the cluster keeps its devices' wills in Redis: one key per will and one set per node naming them, so storing or dropping a will costs O(1) and one round trip, where aedes-persistence-redis scanned one list of every will twice per CONNECT.
import type { RedisPersistence, StoredWill } from 'aedes-persistence-redis';
import type { Redis } from 'ioredis';

/** The Redis commands the will store uses. */
export type WillConnection = Pick<Redis, 'eval' | 'sscan' | 'smembers' | 'lrange'>;

/** Every node that ever stored a will here (so a survivor finds a dead node's set without scanning keys). */
export const WILL_NODES_KEY = 'care:will-nodes';
/** The set of one node's will keys. */
export function willSetKey(nodeId: string): string {
  return `care:wills:${nodeId}`;
}
/** One will: the packet as JSON, its payload in base64. */
export function willKey(nodeId: string, clientId: string): string {
  return `care:will:${nodeId}:${encodeURIComponent(clientId)}`;
}

/** aedes-persistence-redis' own list of will keys (`will:<node>:<client>`), which nodes of an earlier release write. */
export const LEGACY_WILLS_KEY = 'will';

/** A stored will's place: the node the device was connected to and the device's client id. */
export interface WillRef {
  brokerId: string;
  clientId: string;
  /** Written by a node of an earlier release, in aedes-persistence-redis' list and format. */
  legacy: boolean;
}

interface EncodedWill {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
}

const SCAN_COUNT = 1000;

/** Stores a will (KEYS: will key, the node's set, every node's set; ARGV: the will, the node id). */
const PUT_SCRIPT = `redis.call('set', KEYS[1], ARGV[1])
redis.call('sadd', KEYS[2], KEYS[1])
redis.call('sadd', KEYS[3], ARGV[2])
return 1`;
/** Takes a will out (KEYS: will key, its node's set) and answers it, or nil when it is gone. */
const TAKE_SCRIPT = `local v = redis.call('getdel', KEYS[1])
redis.call('srem', KEYS[2], KEYS[1])
return v`;

/**
 * The wills of one node's devices, and the replay's view of every node's. It replaces the persistence's putWill and
 * delWill (aedes' only calls on wills; streamWill is the cluster's own replay). aedes-persistence-redis kept every will
 * key in one list and ran `LREM` over it in each putWill and delWill: a CONNECT cost two scans of a list as long as the
 * cluster's devices, on the one Redis thread every node waits on, plus two dependent round trips for the delWill aedes
 * makes at each CONNECT under a key that never exists (an aedes client has no `brokerId`). Here a CONNECT's will is one
 * script (SET and SADD) and its removal one script (GETDEL and SREM): one command each, where a MULTI of the same
 * was five (MULTI, the commands, EXEC) for ioredis to build and answer, at every CONNECT of a storm.
 */
export class WillStore {
  private legacyDel: ((client: { id: string; brokerId: string }) => Promise<StoredWill | null>) | null = null;

  constructor(
    private readonly conn: () => WillConnection,
    private readonly nodeId: string,
  ) {}

  /** Takes over the persistence's will calls; the earlier release's list stays readable through its own delWill. */
  install(persistence: RedisPersistence): void {
    this.legacyDel = persistence.delWill.bind(persistence);
    persistence.putWill = (client, packet) => this.put(client.id, packet);
    persistence.delWill = async (client) => {
      // aedes' CONNECT deletes the will of `client.brokerId`, which its clients do not have: nothing is stored under it
      // (the will put next replaces this node's own), so that costs nothing.
      const brokerId: unknown = client.brokerId;
      if (typeof brokerId !== 'string') return null;
      return this.take({ brokerId, clientId: client.id, legacy: false });
    };
  }

  async put(clientId: string, packet: Omit<StoredWill, 'clientId' | 'brokerId'>): Promise<void> {
    const key = willKey(this.nodeId, clientId);
    // The node is listed with every will (O(1)), so a Redis that restarted empty lists it again with its next will.
    await this.conn().eval(PUT_SCRIPT, 3, key, willSetKey(this.nodeId), WILL_NODES_KEY, encode(packet), this.nodeId);
  }

  /**
   * Takes a will out of Redis and answers it, or null when it is gone (another node took it first): `GETDEL` is atomic,
   * so of two survivors replaying the same dead node only one gets each will.
   */
  async take(ref: WillRef): Promise<StoredWill | null> {
    if (ref.legacy) return this.legacyDel ? this.legacyDel({ id: ref.clientId, brokerId: ref.brokerId }) : null;
    const key = willKey(ref.brokerId, ref.clientId);
    const raw = await this.conn().eval(TAKE_SCRIPT, 2, key, willSetKey(ref.brokerId));
    return typeof raw === 'string' ? decode(raw, ref) : null;
  }

  /** Every stored will of the nodes `dead` accepts: each node's set, then the earlier release's list, a page at a time. */
  async of(dead: (node: string) => boolean, legacyPage: number): Promise<WillRef[]> {
    const conn = this.conn();
    const out: WillRef[] = [];
    for (const node of await conn.smembers(WILL_NODES_KEY)) {
      if (!dead(node)) continue;
      const prefix = willKey(node, '');
      let cursor = '0';
      do {
        const [next, keys] = await conn.sscan(willSetKey(node), cursor, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (const key of keys) {
          const clientId = key.startsWith(prefix) ? decodedId(key.slice(prefix.length)) : null;
          if (clientId !== null) out.push({ brokerId: node, clientId, legacy: false });
        }
      } while (cursor !== '0');
    }
    // Other nodes may remove entries meanwhile, shifting the pages: a will skipped now is found on the next round.
    for (let start = 0; ; start += legacyPage) {
      const page = await conn.lrange(LEGACY_WILLS_KEY, start, start + legacyPage - 1);
      for (const key of page) {
        const parsed = parseLegacyKey(key);
        if (parsed && dead(parsed.brokerId)) out.push({ ...parsed, legacy: true });
      }
      if (page.length < legacyPage) return out;
    }
  }
}

function decodedId(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function encode(packet: Omit<StoredWill, 'clientId' | 'brokerId'>): string {
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : Buffer.from(packet.payload);
  const will: EncodedWill = { topic: packet.topic, payload: payload.toString('base64'), qos: packet.qos, retain: packet.retain };
  return JSON.stringify(will);
}

function decode(raw: string, ref: WillRef): StoredWill | null {
  try {
    const v = JSON.parse(raw) as Partial<EncodedWill>;
    if (typeof v.topic !== 'string' || typeof v.payload !== 'string') return null;
    return {
      clientId: ref.clientId,
      brokerId: ref.brokerId,
      topic: v.topic,
      payload: Buffer.from(v.payload, 'base64'),
      qos: typeof v.qos === 'number' ? v.qos : 0,
      retain: v.retain === true,
    };
  } catch {
    return null;
  }
}

function parseLegacyKey(key: string): { brokerId: string; clientId: string } | null {
  if (!key.startsWith('will:')) return null;
  const rest = key.slice('will:'.length);
  const colon = rest.indexOf(':');
  if (colon <= 0) return null;
  const clientId = decodedId(rest.slice(colon + 1));
  return clientId === null ? null : { brokerId: rest.slice(0, colon), clientId };
}
