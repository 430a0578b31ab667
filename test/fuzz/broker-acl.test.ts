// Fuzzing the MQTT edge: topic ownership, the ACL through the real broker with mqtt.js, and the promise that nothing is PUBACKed unless it is a durably recorded event or a rejection with its reason.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { ErrorWithSubackPacket, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ID_PATTERN } from '../../gateway/registry/schema.js';
import { channelUnder, commandTopic, COMMAND_CHANNEL } from '../../devices/topics.js';
import { decodeMessage } from '../../devices/kinds.js';
import { startEdge, UNLIMITED_DEVICES, type Edge } from '../helpers/edge.js';
import { payloadBytes } from './arbitraries.js';
import { checkProperty, fuzzBudget } from './budget.js';

const OWN = 'pir-001'; // a motion sensor: its events are recorded, none of them pages
const OTHER = 'btn-001';

/** Topics near and far from a device's own: its prefix, another's, wildcards, empty levels, any text. */
function topicFor(own: string, other: string): fc.Arbitrary<string> {
  const level = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('care', 'v1', own, other, 'event', 'telemetry', 'status', 'command') },
    { weight: 1, arbitrary: fc.constantFrom('', '+', '#', 'care/v1', 'CARE', ' ', '..', '\u00e9') },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
  return fc.oneof(
    fc.array(level, { minLength: 1, maxLength: 6 }).map((l) => l.join('/')),
    fc.tuple(fc.constantFrom(own, other), level).map(([id, rest]) => `care/v1/${id}/${rest}`),
    fc.string({ maxLength: 40 }),
  );
}

const twoIdsAndATopic = fc
  .tuple(fc.stringMatching(ID_PATTERN), fc.stringMatching(ID_PATTERN))
  .chain(([a, b]) => topicFor(a, b).map((topic) => ({ a, b, topic })));

describe('topic ownership (fuzz)', () => {
  const budget = fuzzBudget(1000);
  it(
    'a topic belongs to at most one device, exactly when it is under care/v1/<id>/',
    async () => {
      await checkProperty(
        'topics: one owner at most',
        fc.property(twoIdsAndATopic, ({ a, b, topic }) => {
          const prefix = `care/v1/${a}/`;
          const ownA = channelUnder(a, topic);
          expect(ownA !== null).toBe(topic.startsWith(prefix) && topic.length > prefix.length);
          if (ownA !== null) expect(prefix + ownA).toBe(topic);
          if (a !== b) expect(ownA !== null && channelUnder(b, topic) !== null).toBe(false);
          expect(channelUnder(a, commandTopic(a))).toBe(COMMAND_CHANNEL);
          if (a !== b) expect(channelUnder(b, commandTopic(a))).toBeNull();
        }),
        budget,
      );
    },
    budget.testTimeoutMs,
  );
});

type Outcome = 'acked' | 'closed' | 'refused_locally' | 'unanswered';

/** A QoS 1 PUBLISH the broker neither acknowledged nor closed on by then would leave the device resending it forever. */
const ANSWER_TIMEOUT_MS = 5000;

/** Publishes at QoS 1: a PUBACK, the broker closing the connection, mqtt.js refusing to send it, or no answer. */
function publishOutcome(client: MqttClient, topic: string, payload: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('unanswered'), ANSWER_TIMEOUT_MS);
    const onClose = () => {
      clearTimeout(timer);
      resolve('closed');
    };
    client.once('close', onClose);
    try {
      client.publish(topic, payload, { qos: 1 }, (err) => {
        clearTimeout(timer);
        client.off('close', onClose);
        resolve(err ? (client.connected ? 'refused_locally' : 'closed') : 'acked');
      });
    } catch {
      client.off('close', onClose);
      resolve('refused_locally');
    }
  });
}

async function subackCode(client: MqttClient, filter: string): Promise<number | 'refused_locally' | 'closed'> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos ?? -1;
  } catch (err) {
    // mqtt.js raises this class for a negated SUBACK, and without a packet for a filter it will not send.
    const granted: unknown = err instanceof ErrorWithSubackPacket ? (err.packet as { granted?: unknown } | undefined)?.granted : undefined;
    if (Array.isArray(granted)) return typeof granted[0] === 'number' ? granted[0] : -1;
    return client.connected ? 'refused_locally' : 'closed';
  }
}

describe('the device broker and ingest (fuzz, real aedes and mqtt.js)', () => {
  let edge: Edge;
  let db: Database.Database;
  let client: MqttClient | null = null;

  const connected = async (): Promise<MqttClient> => {
    if (client?.connected) return client;
    client?.end(true);
    client = await edge.connect(OWN);
    return client;
  };
  const count = (sql: string, ...args: unknown[]) => db.prepare<unknown[], { n: number }>(sql).get(...args)?.n ?? -1;

  /** An acknowledged message is a rejection with its reason, or an event another connection to the file already sees. */
  const checkAcknowledged = (channel: string, payload: Buffer, rejectionsBefore: number) => {
    const decoded = decodeMessage('motion_sensor', channel, payload);
    if (!decoded.ok) {
      expect(edge.seen.rejections.length).toBe(rejectionsBefore + 1);
      expect(edge.seen.rejections.at(-1)).toMatchObject({ deviceId: OWN, reason: decoded.reason });
      expect(edge.ingest.healthOf(OWN)?.lastRejection?.reason).toBe(decoded.reason);
    } else if (decoded.value.channel === 'event') {
      const hash = createHash('sha256').update(payload).digest('hex');
      expect(
        count('SELECT count(*) AS n FROM events WHERE device_id = ? AND seq = ? AND payload_hash = ?', OWN, decoded.value.event.seq, hash),
      ).toBe(1);
    }
  };

  beforeAll(async () => {
    // Hundreds of messages from one device: the gateway's per-device limits would drop them before the ingest.
    edge = await startEdge({ env: UNLIMITED_DEVICES });
    db = new Database(edge.dbFile, { readonly: true });
  });
  afterAll(async () => {
    client?.end(true);
    db?.close();
    await edge?.close();
  });

  const entry = fuzzBudget(500, 10_000);
  it(
    'the ingest lets a message be acknowledged only as a durably recorded event or a rejection with a reason',
    async () => {
      const device = await edge.store.registry.getDevice(OWN);
      if (!device) throw new Error(`no device ${OWN}`);
      await checkProperty(
        'ingest: acked only when recorded or rejected with a reason',
        fc.asyncProperty(
          fc.constantFrom('event', 'event', 'telemetry', 'status', 'command/x', ''),
          payloadBytes,
          async (channel, payload) => {
            const rejectionsBefore = edge.seen.rejections.length;
            // handle() resolving is the broker's licence to PUBACK; its rejecting withholds the PUBACK.
            await edge.ingest.handle(OWN, device, channel, payload, { remoteAddress: null, arrivedHr: performance.now() });
            checkAcknowledged(channel, payload, rejectionsBefore);
          },
        ),
        entry,
      );
    },
    entry.testTimeoutMs,
  );

  const publishes = fuzzBudget(200, 15_000);
  it(
    'PUBACKs a message only under the device own prefix, and then as a recorded event or a rejection with a reason',
    async () => {
      await checkProperty(
        'broker publish: acked only when recorded or rejected with a reason',
        fc.asyncProperty(
          fc.oneof(
            { weight: 3, arbitrary: fc.constantFrom(`care/v1/${OWN}/event`, `care/v1/${OWN}/telemetry`, `care/v1/${OWN}/status`) },
            { weight: 2, arbitrary: topicFor(OWN, OTHER) },
          ),
          payloadBytes,
          async (topic, payload) => {
            // MQTT 3.1.1 has no empty topic name [MQTT-4.7.3-1]; mqtt.js does not send one, so nothing reaches the broker.
            fc.pre(topic.length > 0);
            const c = await connected();
            const channel = channelUnder(OWN, topic);
            const denied = channel === null || channel === COMMAND_CHANNEL;
            const securityBefore = count("SELECT count(*) AS n FROM security_events WHERE kind = 'publish_denied'");
            const rejectionsBefore = edge.seen.rejections.length;
            const outcome = await publishOutcome(c, topic, payload);
            if (outcome === 'refused_locally') return;
            const malformed = topic.includes('+') || topic.includes('#') || topic.includes('\u0000');
            if (denied) {
              // Another device's topic, the command topic or no device's at all: the connection is closed, and it is on
              // record (a topic with wildcards may be closed on as a protocol error before the ACL sees it).
              expect(outcome).toBe('closed');
              if (!malformed)
                expect(count("SELECT count(*) AS n FROM security_events WHERE kind = 'publish_denied'")).toBe(securityBefore + 1);
              return;
            }
            // Wildcards and empty levels in a PUBLISH are a protocol error the broker may close on; never an unrecorded PUBACK.
            if (outcome === 'closed' && malformed) return;
            expect(outcome).toBe('acked');
            checkAcknowledged(channel, payload, rejectionsBefore);
          },
        ),
        publishes,
      );
    },
    publishes.testTimeoutMs,
  );

  const subscribes = fuzzBudget(300, 10_000);
  it(
    'grants a subscription to the device own command topic and to nothing else',
    async () => {
      await checkProperty(
        'broker subscribe: own command topic only',
        fc.asyncProperty(
          fc.oneof(fc.constant(commandTopic(OWN)), fc.constant(commandTopic(OTHER)), topicFor(OWN, OTHER)),
          async (filter) => {
            const c = await connected();
            const before = count("SELECT count(*) AS n FROM security_events WHERE kind = 'subscribe_denied'");
            const code = await subackCode(c, filter);
            if (code === 'refused_locally' || code === 'closed') {
              expect(filter).not.toBe(commandTopic(OWN));
              return;
            }
            if (filter === commandTopic(OWN)) {
              expect(code).toBe(1);
              await c.unsubscribeAsync(filter);
            } else {
              expect(code).toBe(0x80);
              expect(count("SELECT count(*) AS n FROM security_events WHERE kind = 'subscribe_denied'")).toBe(before + 1);
            }
          },
        ),
        subscribes,
      );
    },
    subscribes.testTimeoutMs,
  );
});
