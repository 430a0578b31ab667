// Registry checks that span entries: bridges against devices (references, secrets, external ids) and bridges against each other (client ids, topic trees).
import { normaliseExternalId } from '../core/bridges.js';
import { ZIGBEE2MQTT_MODELS, zigbee2mqttModel } from '../bridges/zigbee2mqtt/models.js';

export interface BridgeIssue {
  path: readonly PropertyKey[];
  message: string;
}

/** What the store already holds, so a document may name a bridge it does not repeat, and cannot collide with a stored one. */
export interface ExistingBridgeFacts {
  /** Stored bridges by id: the base topic of a zigbee2mqtt bridge on our broker, else null. */
  bridges?: ReadonlyMap<string, { kind: string; ourBrokerTopic: string | null }>;
  /** Ids of stored devices: a bridge signs in to our broker with its id, so it may not take a device's. */
  devices?: { has(id: string): boolean };
  /** Stored bridged devices: `bridgeKey(bridge, externalId)` to the device id. */
  externalIds?: ReadonlyMap<string, string>;
}

/** The key of a device on a bridge, for maps of external ids. */
export function bridgeKey(bridgeId: string, externalId: string): string {
  return `${bridgeId}\u0000${normaliseExternalId(externalId)}`;
}

/** Problems of the document's `bridges` and of its devices' bridge fields, read from the raw document. */
export function bridgeIssues(doc: Record<string, unknown>, existing: ExistingBridgeFacts): BridgeIssue[] {
  const issues: BridgeIssue[] = [];
  const bridges = [...itemsOf(doc, 'bridges')];
  const devices = [...itemsOf(doc, 'devices')];
  const docBridgeIds = new Set(bridges.map(([, b]) => b.id).filter(isString));
  const kindOf = new Map<string, unknown>([...(existing.bridges ?? [])].map(([id, b]) => [id, b.kind]));
  for (const [, b] of bridges) if (isString(b.id)) kindOf.set(b.id, b.kind);
  const docDeviceIds = new Set(devices.map(([, d]) => d.id).filter(isString));

  const ourTopics: { id: string; topic: string; where: string }[] = [];
  for (const [id, facts] of existing.bridges ?? []) {
    if (facts.ourBrokerTopic !== null && !docBridgeIds.has(id))
      ourTopics.push({ id, topic: facts.ourBrokerTopic, where: `stored bridge "${id}"` });
  }
  for (const [i, b] of bridges) {
    const at = (field: string): PropertyKey[] => ['bridges', i, field];
    if (isString(b.id) && (docDeviceIds.has(b.id) || existing.devices?.has(b.id))) {
      issues.push({
        path: at('id'),
        message: `"${b.id}" is also a device id: bridges and devices sign in to the broker by id, so each needs its own`,
      });
    }
    if (b.kind !== 'zigbee2mqtt') continue;
    const hasSecret = b.secret !== undefined;
    const hasUrl = b.url !== undefined;
    if (hasSecret && hasUrl) {
      issues.push({
        path: at('url'),
        message: 'set either secret (zigbee2mqtt connects to our broker) or url (the gateway subscribes to its broker), not both',
      });
    } else if (!hasSecret && !hasUrl) {
      issues.push({
        path: at('secret'),
        message: 'required: secret (zigbee2mqtt connects to our broker) or url (the gateway subscribes to its broker)',
      });
    }
    for (const field of ['username', 'password']) {
      if (!hasUrl && b[field] !== undefined)
        issues.push({ path: at(field), message: `${field} is for an external broker: set url, or remove it` });
    }
    // Our broker confines each bridge to its own topic tree: two trees that nest would let one bridge speak for the other.
    if (hasSecret && !hasUrl && isString(b.id)) {
      const topic = isString(b.baseTopic) ? b.baseTopic : 'zigbee2mqtt';
      const clash = ourTopics.find((o) => nests(o.topic, topic));
      if (clash)
        issues.push({
          path: at('baseTopic'),
          message: `"${topic}" overlaps the topics of ${clash.where} ("${clash.topic}"): each bridge on our broker needs its own tree`,
        });
      ourTopics.push({ id: b.id, topic, where: `bridges[${i}]` });
    }
  }

  const seen = new Map<string, number>();
  for (const [i, d] of devices) {
    const at = (field: string): PropertyKey[] => ['devices', i, field];
    if (d.bridge === undefined) {
      if (d.secret === undefined) issues.push({ path: at('secret'), message: 'required' });
      // `model` stays allowed: it also documents the hardware of a device that connects itself.
      if (d.externalId !== undefined)
        issues.push({ path: at('externalId'), message: 'externalId is only for a device on a bridge: set bridge, or remove it' });
      continue;
    }
    if (!isString(d.bridge)) continue;
    if (!docBridgeIds.has(d.bridge) && !existing.bridges?.has(d.bridge))
      issues.push({ path: at('bridge'), message: `unknown bridge "${d.bridge}"` });
    for (const field of ['secret', 'requireClientCert', 'certFingerprint']) {
      if (d[field] !== undefined)
        issues.push({ path: at(field), message: `a device on a bridge never connects itself, so ${field} cannot apply: remove it` });
    }
    // The model picks the payload mapping: a model the gateway does not know would map nothing, silently.
    if (kindOf.get(d.bridge) === 'zigbee2mqtt' && isString(d.model) && !zigbee2mqttModel(d.model)) {
      issues.push({
        path: at('model'),
        message: `unknown zigbee2mqtt model "${d.model}"; known: ${ZIGBEE2MQTT_MODELS.map((m) => m.model).join(', ')} (or leave model out for the generic mapping)`,
      });
    }
    if (d.externalId === undefined) {
      issues.push({
        path: at('externalId'),
        message: 'required for a device on a bridge (its zigbee2mqtt name or IEEE address, DevEUI or vendor id)',
      });
      continue;
    }
    if (!isString(d.externalId)) continue;
    const key = bridgeKey(d.bridge, d.externalId);
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({ path: at('externalId'), message: `"${d.externalId}" is already devices[${first}] on bridge "${d.bridge}"` });
      continue;
    }
    seen.set(key, i);
    const stored = existing.externalIds?.get(key);
    // A stored device that this document moves elsewhere frees its external id.
    if (stored !== undefined && stored !== d.id && !docDeviceIds.has(stored)) {
      issues.push({ path: at('externalId'), message: `"${d.externalId}" is already device "${stored}" on bridge "${d.bridge}"` });
    }
  }
  return issues;
}

/** True when one topic tree contains the other (same levels up to the shorter one). */
function nests(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function* itemsOf(doc: Record<string, unknown>, list: string): Generator<[number, Record<string, unknown>]> {
  const items = doc[list];
  if (!Array.isArray(items)) return;
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (isRecord(item)) yield [i, item];
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
