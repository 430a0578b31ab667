// zigbee2mqtt payloads made the way zigbee2mqtt makes them: the model's real zigbee-herdsman-converters definition and fromZigbee converters run on a synthetic zigbee message.
import * as zhc from 'zigbee-herdsman-converters';

/** The zigbee identity of each model under test (modelID and manufacturer as the device announces them). */
export const ZIGBEE_IDS = {
  TS0215A_sos: { modelID: 'TS0215A', manufacturerName: '_TZ3000_tj4pwzzm' },
  'HS1EB/HS1EB-E': { modelID: 'SOS-EM', manufacturerName: 'HEIMAN' },
  SEB01ZB: { modelID: 'FNB56-SOS03FB1.5', manufacturerName: '' },
  RTCGQ11LM: { modelID: 'lumi.sensor_motion.aq2', manufacturerName: 'LUMI' },
  MCCGQ11LM: { modelID: 'lumi.sensor_magnet.aq2', manufacturerName: 'LUMI' },
  'MIR-HE200-TY': { modelID: 'TS0601', manufacturerName: '_TZE200_lu01t0zl' },
} as const;
export type TestModel = keyof typeof ZIGBEE_IDS;

zhc.setLogger({ debug: () => undefined, info: () => undefined, warning: () => undefined, error: () => undefined });

let transaction = 1;

/** A zigbee message as zigbee-herdsman hands it to zigbee2mqtt. */
export interface ZigbeeFrame {
  cluster: string;
  type: string;
  data: Record<string, unknown>;
  linkquality?: number;
}

/**
 * What zigbee2mqtt publishes for `frame` from a device of `model`: the output of every matching fromZigbee converter,
 * merged, plus linkquality. Throws when the model's definition is not the one expected or no converter produced anything.
 */
export async function z2mPayload(model: TestModel, ieeeAddr: string, frame: ZigbeeFrame): Promise<Record<string, unknown>> {
  const device = new Device(ieeeAddr, ZIGBEE_IDS[model]);
  const endpoint = device.endpoints[0];
  // @ts-expect-error a synthetic device carries only what the definition look-up and these converters read
  const definition = await zhc.findByDevice(device);
  if (definition?.model !== model) throw new Error(`zigbee-herdsman-converters found ${definition?.model ?? 'nothing'} for ${model}`);
  const msg = {
    ...frame,
    endpoint,
    device,
    meta: { zclTransactionSequenceNumber: transaction++, manufacturerCode: null, frameControl: {} },
    linkquality: frame.linkquality ?? 120,
    groupID: 0,
  };
  const payload: Record<string, unknown> = {};
  const meta = { state: {}, device, logger: undefined, deviceExposesChanged: () => undefined };
  for (const converter of definition.fromZigbee) {
    const types = Array.isArray(converter.type) ? converter.type : [converter.type];
    if (converter.cluster !== frame.cluster || !types.includes(frame.type)) continue;
    // @ts-expect-error the synthetic message stands in for zigbee-herdsman's
    const out: unknown = await converter.convert(definition, msg, () => undefined, {}, meta);
    if (out && typeof out === 'object') Object.assign(payload, out);
  }
  if (Object.keys(payload).length === 0) throw new Error(`no ${model} converter produced a payload for ${frame.cluster}/${frame.type}`);
  return { ...payload, linkquality: msg.linkquality };
}

// The converters tell zigbee-herdsman's devices and endpoints apart by class name, so the stand-ins carry those names.
class Endpoint {
  readonly ID = 1;
  readonly clusters = {};
  readonly inputClusters: number[] = [];
  readonly outputClusters: number[] = [];
  constructor(
    readonly deviceIeeeAddress: string,
    private readonly device: Device,
  ) {}
  getDevice(): Device {
    return this.device;
  }
}

class Device {
  readonly type = 'EndDevice';
  readonly powerSource = 'Battery';
  readonly customClusters = {};
  readonly meta = {};
  readonly modelID: string;
  readonly manufacturerName: string;
  readonly endpoints: [Endpoint];
  constructor(
    readonly ieeeAddr: string,
    ids: { modelID: string; manufacturerName: string },
  ) {
    this.modelID = ids.modelID;
    this.manufacturerName = ids.manufacturerName;
    this.endpoints = [new Endpoint(ieeeAddr, this)];
  }
  getEndpoint(): Endpoint {
    return this.endpoints[0];
  }
  save(): void {}
}
