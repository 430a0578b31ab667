// Bridges in the registry: validation names the path and the problem; import stores them, hashes our-broker secrets and finds devices by their id on a bridge.
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/core/errors.js';
import { silentLogger } from '../../gateway/core/logger.js';
import { NO_DEVICE_SECRET } from '../../gateway/core/bridges.js';
import { validateRegistry } from '../../gateway/registry/load.js';
import { existingIdsFromStore, importRegistryDocument } from '../../gateway/registry/import.js';
import { verifySecret } from '../../gateway/registry/secrets.js';
import { openSqliteStore, type SqliteStore } from '../../gateway/storage/sqlite/store.js';
import { tempDir } from '../helpers/tmp.js';

const base = () => ({
  communities: [{ id: 'andali', name: '安达里社区' }],
  residents: [{ id: 'r-001', name: '张桂兰', community: 'andali', address: '安达里3号楼2门401' }],
});
const z2m = { id: 'z2m-andali', kind: 'zigbee2mqtt', secret: 'z2m-secret-1', baseTopic: 'zigbee2mqtt' };
const cs = { id: 'cs-1', kind: 'chirpstack', url: 'mqtt://127.0.0.1:1884', username: 'gw', password: 'pw', applicationId: 'app-1' };
const onenet = { id: 'onenet-1', kind: 'http', secret: 'onenet-token-1' };
const zbBtn = {
  id: 'btn-101',
  kind: 'sos_button' as const,
  resident: 'r-001',
  bridge: 'z2m-andali',
  externalId: '0x00158D0001A2B3C4',
  model: 'TS0215A_sos',
};

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof GatewayError)) throw err;
    expect(err.code).toBe('GW_ERR_REGISTRY_INVALID');
    const details = err.details;
    if (typeof details !== 'object' || details === null || !('issues' in details) || !Array.isArray(details.issues))
      throw new Error('no issues');
    return details.issues.map(String);
  }
  throw new Error('expected GW_ERR_REGISTRY_INVALID, but the document was accepted');
}

describe('registry bridges: validation', () => {
  it('accepts the contract example: one bridge of each kind and a device on each', () => {
    const doc = validateRegistry({
      ...base(),
      bridges: [
        z2m,
        cs,
        onenet,
        { id: 'z2m-ext', kind: 'zigbee2mqtt', url: 'mqtt://10.0.0.5:1883', username: 'gw', password: 'x', baseTopic: 'z2m-ext' },
      ],
      devices: [
        zbBtn,
        { id: 'lora-1', kind: 'sos_button', resident: 'r-001', bridge: 'cs-1', externalId: '0102030405060708', offlineAfterSeconds: 86400 },
        { id: 'nb-1', kind: 'sos_button', resident: 'r-001', bridge: 'onenet-1', externalId: 'dev-42' },
        { id: 'direct-1', kind: 'sos_button', resident: 'r-001', secret: 'direct-secret-1' },
      ],
    });
    expect(doc.bridges.map((b) => b.kind)).toEqual(['zigbee2mqtt', 'chirpstack', 'http', 'zigbee2mqtt']);
    // Defaults: OneNET signatures for an HTTP bridge, "zigbee2mqtt" as the base topic.
    expect(doc.bridges[2]).toMatchObject({ auth: 'onenet' });
    expect(validateRegistry({ bridges: [{ id: 'z', kind: 'zigbee2mqtt', secret: 'z-secret-1' }] }).bridges[0]).toMatchObject({
      baseTopic: 'zigbee2mqtt',
    });
  });

  it('names the path and the problem for each bridged-device mistake', () => {
    const issues = issuesOf(() =>
      validateRegistry({
        ...base(),
        bridges: [z2m],
        devices: [
          { id: 'a', kind: 'sos_button', resident: 'r-001', bridge: 'nope', externalId: 'x' },
          { id: 'b', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-andali', externalId: 'btn', secret: 'a-secret-123' },
          { id: 'c', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-andali', externalId: 'BTN' },
          { id: 'd', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-andali', externalId: 'btn' },
          { id: 'e', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-andali' },
          { id: 'f', kind: 'sos_button', resident: 'r-001' },
          { id: 'g', kind: 'sos_button', resident: 'r-001', secret: 'g-secret-123', externalId: 'g' },
          { id: 'h', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-andali', externalId: '0x00158d0001a2b3c4' },
          { id: 'i', kind: 'sos_button', resident: 'r-001', bridge: 'z2m-andali', externalId: '0x00158D0001A2B3C4' },
        ],
      }),
    );
    expect(issues).toEqual([
      'devices[0].bridge: unknown bridge "nope"',
      'devices[1].secret: a device on a bridge never connects itself, so secret cannot apply: remove it',
      'devices[3].externalId: "btn" is already devices[1] on bridge "z2m-andali"',
      'devices[4].externalId: required for a device on a bridge (its zigbee2mqtt name or IEEE address, DevEUI or vendor id)',
      'devices[5].secret: required',
      'devices[6].externalId: externalId is only for a device on a bridge: set bridge, or remove it',
      // IEEE addresses compare in any case; friendly names (btn, BTN) exactly.
      'devices[8].externalId: "0x00158D0001A2B3C4" is already devices[7] on bridge "z2m-andali"',
    ]);
  });

  it('refuses bridge definitions that cannot work or would break confinement', () => {
    const issues = issuesOf(() =>
      validateRegistry({
        ...base(),
        bridges: [
          { id: 'z1', kind: 'zigbee2mqtt', baseTopic: 'zigbee2mqtt' },
          { id: 'z2', kind: 'zigbee2mqtt', secret: 'z2-secret-1', url: 'mqtt://h:1883' },
          { id: 'z3', kind: 'zigbee2mqtt', secret: 'z3-secret-1', baseTopic: 'home' },
          { id: 'z4', kind: 'zigbee2mqtt', secret: 'z4-secret-1', baseTopic: 'home/floor2' },
          { id: 'z5', kind: 'zigbee2mqtt', secret: 'z5-secret-1', baseTopic: 'care/v1' },
          { id: 'z6', kind: 'zigbee2mqtt', secret: 'z6-secret-1', baseTopic: 'zb/#' },
          { id: 'z7', kind: 'zigbee2mqtt', secret: 'z7-secret-1', username: 'u', baseTopic: 'z7' },
          { id: 'cs', kind: 'chirpstack', url: 'http://h', applicationId: 'a' },
          { id: 'h', kind: 'http', secret: 'short', auth: 'md5' },
          { id: 'x', kind: 'lorawan' },
          { id: 'btn-9', kind: 'http', secret: 'btn-9-secret' },
        ],
        devices: [{ id: 'btn-9', kind: 'sos_button', resident: 'r-001', secret: 'btn-9-secret' }],
      }),
    );
    expect(issues).toEqual([
      'bridges[0].secret: required: secret (zigbee2mqtt connects to our broker) or url (the gateway subscribes to its broker)',
      'bridges[1].url: set either secret (zigbee2mqtt connects to our broker) or url (the gateway subscribes to its broker), not both',
      'bridges[3].baseTopic: "home/floor2" overlaps the topics of bridges[2] ("home"): each bridge on our broker needs its own tree',
      'bridges[4].baseTopic: must not be under "care/", the topics of devices that speak our protocol',
      'bridges[5].baseTopic: expected an MQTT topic without wildcards (+ #), not starting with "/" or "$"',
      'bridges[6].username: username is for an external broker: set url, or remove it',
      'bridges[7].url: expected a broker URL such as "mqtt://127.0.0.1:1883" (mqtt, mqtts, tcp, ssl, tls, ws or wss)',
      'bridges[8].secret: expected a secret of at least 8 characters',
      'bridges[8].auth: expected one of onenet, hmac',
      'bridges[9].kind: expected one of zigbee2mqtt, chirpstack, http',
      'bridges[10].id: "btn-9" is also a device id: bridges and devices sign in to the broker by id, so each needs its own',
    ]);
  });
});

describe('registry bridges: import and look-up', () => {
  let store: SqliteStore;
  let dir: ReturnType<typeof tempDir>;
  afterEach(async () => {
    await store.close();
    dir.remove();
  });
  const open = () => {
    dir = tempDir();
    store = openSqliteStore(`${dir.path}/gateway.db`);
  };
  const deps = () => ({ store, log: silentLogger() });

  it('stores bridges, hashes only the our-broker secret, and finds a device by its id on the bridge in any hex case', async () => {
    open();
    await importRegistryDocument(deps(), { ...base(), bridges: [z2m, cs, onenet], devices: [zbBtn] });
    const bridge = await store.registry.getBridge('z2m-andali');
    expect(bridge?.kind).toBe('zigbee2mqtt');
    if (bridge?.kind !== 'zigbee2mqtt' || bridge.secretHash === undefined) throw new Error('no hashed secret');
    expect(JSON.stringify(bridge)).not.toContain('z2m-secret-1');
    expect(await verifySecret('z2m-secret-1', bridge.secretHash)).toBe(true);
    // The gateway must present an external broker's password and recompute OneNET signatures: kept as written.
    expect(await store.registry.getBridge('cs-1')).toMatchObject({ password: 'pw', applicationId: 'app-1' });
    expect(await store.registry.getBridge('onenet-1')).toMatchObject({ secret: 'onenet-token-1', auth: 'onenet' });
    expect((await store.registry.listBridges()).map((b) => b.id)).toEqual(['cs-1', 'onenet-1', 'z2m-andali']);

    const device = await store.registry.findBridgedDevice('z2m-andali', '0x00158d0001a2b3c4');
    expect(device).toMatchObject({ id: 'btn-101', bridge: 'z2m-andali', model: 'TS0215A_sos', secretHash: NO_DEVICE_SECRET });
    expect(await store.registry.findBridgedDevice('cs-1', '0x00158d0001a2b3c4')).toBeNull();
    expect((await store.registry.listBridgedDevices('z2m-andali')).map((d) => d.id)).toEqual(['btn-101']);
    // No password verifies against a bridged device: it cannot sign in to the broker itself.
    expect(await verifySecret('', NO_DEVICE_SECRET)).toBe(false);
  });

  it('keeps the stored hash of an unchanged bridge secret, and checks a later document against stored bridges and devices', async () => {
    open();
    await importRegistryDocument(deps(), {
      ...base(),
      bridges: [z2m],
      devices: [zbBtn, { id: 'direct-1', kind: 'sos_button', resident: 'r-001', secret: 'direct-secret-1' }],
    });
    const first = await store.registry.getBridge('z2m-andali');
    await importRegistryDocument(deps(), { bridges: [z2m] });
    expect(await store.registry.getBridge('z2m-andali')).toEqual(first);

    const existing = await existingIdsFromStore(store);
    expect(issuesOf(() => validateRegistry({ devices: [{ ...zbBtn, id: 'btn-other' }] }, existing))).toEqual([
      'devices[0].externalId: "0x00158D0001A2B3C4" is already device "btn-101" on bridge "z2m-andali"',
    ]);
    expect(
      issuesOf(() =>
        validateRegistry(
          {
            bridges: [
              { id: 'z2', kind: 'zigbee2mqtt', secret: 'z2-secret-1', baseTopic: 'zigbee2mqtt/sub' },
              { ...onenet, id: 'direct-1' },
            ],
          },
          existing,
        ),
      ),
    ).toEqual([
      'bridges[0].baseTopic: "zigbee2mqtt/sub" overlaps the topics of stored bridge "z2m-andali" ("zigbee2mqtt"): each bridge on our broker needs its own tree',
      'bridges[1].id: "direct-1" is also a device id: bridges and devices sign in to the broker by id, so each needs its own',
    ]);
    // A device may name a bridge stored earlier, and two devices may swap their ids in one document.
    await importRegistryDocument(deps(), { devices: [{ ...zbBtn, id: 'btn-102', externalId: 'other' }] });
    await importRegistryDocument(deps(), {
      devices: [
        { ...zbBtn, externalId: 'other' },
        { ...zbBtn, id: 'btn-102' },
      ],
    });
    expect((await store.registry.findBridgedDevice('z2m-andali', 'other'))?.id).toBe('btn-101');
    expect((await store.registry.findBridgedDevice('z2m-andali', '0x00158d0001a2b3c4'))?.id).toBe('btn-102');
  });

  it('rolls the whole import back when the store would end with two devices on one external id', async () => {
    open();
    await importRegistryDocument(deps(), { ...base(), bridges: [z2m], devices: [zbBtn] });
    // Past validation (a stale view of the store), the store itself refuses the clash.
    await expect(
      store.registry.upsert({
        communities: [],
        residents: [],
        workers: [],
        volunteers: [],
        visits: [],
        devices: [{ ...zbBtn, id: 'btn-dup', secretHash: NO_DEVICE_SECRET }],
      }),
    ).rejects.toThrow('devices btn-101, btn-dup share the external id "0x00158d0001a2b3c4" on bridge "z2m-andali"');
    expect(await store.registry.getDevice('btn-dup')).toBeNull();
  });
});
