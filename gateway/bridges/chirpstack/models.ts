// LoRaWAN device models behind ChirpStack: how each one's uplink (codec `object`, or raw bytes on an fPort) maps to our events, and how a command goes down to it.
import type { DeviceCommand } from '../../../devices/commands.js';

/** What one uplink says, in our words. */
export interface LoraReading {
  /** The alarm or sign of life it carries; none for a plain periodic report. */
  event?: 'sos' | 'fall' | 'cancel' | 'motion';
  /** Battery in percent, when the uplink reports it. */
  battery?: number;
}

export type Decoding = { ok: true; reading: LoraReading } | { ok: false; detail: string };

/** A downlink in ChirpStack's queue-item shape: raw bytes on an fPort, or an object for the device profile's codec. */
export type LoraDownlink = { fPort: number; confirmed: boolean } & ({ data: Buffer } | { object: Record<string, unknown> });

export interface LoraModel {
  id: string;
  /** Vendor and product, for the docs and the dashboard. */
  label: string;
  /** The uplink as ChirpStack's codec decoded it (the device profile has a codec). */
  fromObject(object: Record<string, unknown>): Decoding;
  /** The uplink's bytes (no codec, or a codec that failed). */
  fromBytes(fPort: number, bytes: Buffer): Decoding;
  /** The downlink for a command, or null when the device cannot show it (with why, for the log). */
  downlink(command: DeviceCommand): LoraDownlink | { none: string };
}

const ok = (reading: LoraReading): Decoding => ({ ok: true, reading });
const bad = (detail: string): Decoding => ({ ok: false, detail });
const percent = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100 ? v : undefined);

/**
 * Milesight WS101 SOS (and the WS101 smart button wired as one): IPSO-style channels on fPort 85, per Milesight's
 * published decoder. `01 75 <battery %>`, `FF 2E <press>` with press 1 short, 2 long, 3 double; any press of the SOS
 * variant is a call for help. Its downlinks only configure it (reporting interval, LED, buzzer): it has nothing to
 * show "help is coming" with.
 */
const milesightWs101Sos: LoraModel = {
  id: 'milesight_ws101_sos',
  label: 'Milesight WS101 SOS button',
  fromObject(object) {
    // Milesight's ChirpStack codec: `press` ("short" | "long" | "double") in the 2022 one, `button_event.status`
    // ("short press" …) in the current one; both carry `battery`.
    const buttonEvent = object.button_event;
    const press =
      typeof object.press === 'string'
        ? object.press
        : isRecord(buttonEvent) && typeof buttonEvent.status === 'string'
          ? buttonEvent.status
          : undefined;
    const battery = percent(object.battery);
    return ok({ ...(press !== undefined ? { event: 'sos' as const } : {}), ...(battery !== undefined ? { battery } : {}) });
  },
  fromBytes(fPort, bytes) {
    if (fPort !== 85) return bad(`fPort ${fPort}: the WS101 reports on fPort 85`);
    const reading: LoraReading = {};
    for (let i = 0; i < bytes.length;) {
      const channel = bytes[i];
      const type = bytes[i + 1];
      const value = bytes[i + 2];
      if (value === undefined) return bad(`truncated channel at byte ${i}: ${bytes.toString('hex')}`);
      if (channel === 0x01 && type === 0x75) {
        if (value > 100) return bad(`battery ${value} % out of range`);
        reading.battery = value;
        i += 3;
      } else if (channel === 0xff && type === 0x2e) {
        if (value < 1 || value > 3) return bad(`unknown press type ${value}`);
        reading.event = 'sos';
        i += 3;
      } else if (channel === 0xff) {
        // Device attributes sent after a (re)join: versions, serial number, class, reset, status. A sign of life only.
        const length = ATTRIBUTE_LENGTHS[type ?? -1];
        if (length === undefined) return bad(`unknown attribute FF ${hex(type)} at byte ${i}`);
        i += 2 + length;
      } else {
        return bad(`unknown channel ${hex(channel)} ${hex(type)} at byte ${i}`);
      }
    }
    return ok(reading);
  },
  downlink: () => ({ none: 'the WS101 has no indicator for "help is coming" (its downlinks only configure it)' }),
};

/** WS101 attribute channel `FF <type>`: data length in bytes, from Milesight's payload table. */
const ATTRIBUTE_LENGTHS: Readonly<Record<number, number>> = { 0x01: 1, 0x09: 2, 0x0a: 2, 0xff: 2, 0x08: 6, 0x0f: 1, 0xfe: 1, 0x0b: 1 };

/**
 * Any device whose ChirpStack device profile has a codec that speaks our event words: the codec's object carries
 * `event` ("sos", "fall", "cancel", "motion"; or `sos: true`, `fall: true`) and `battery`. Commands go down as an object
 * for the profile's codec to encode (`{ command, incident }` on fPort 10), so any fixture with a light or a speaker
 * can say "help is coming" by its own codec.
 */
const codec: LoraModel = {
  id: 'chirpstack_codec',
  label: 'Any device with a ChirpStack codec emitting { event, battery }',
  fromObject(object) {
    const event = object.event ?? (object.sos === true ? 'sos' : object.fall === true ? 'fall' : undefined);
    if (event !== undefined && !isLoraEvent(event))
      return bad(`object.event ${JSON.stringify(event)} is not one of sos, fall, cancel, motion`);
    const battery = percent(object.battery);
    return ok({ ...(event !== undefined ? { event } : {}), ...(battery !== undefined ? { battery } : {}) });
  },
  fromBytes: (fPort) => bad(`no codec object on fPort ${fPort}: this model needs the device profile's codec`),
  downlink: (command) => ({ fPort: 10, confirmed: true, object: { command: command.type, incident: command.incident } }),
};

const LORA_EVENTS = ['sos', 'fall', 'cancel', 'motion'] as const;
function isLoraEvent(v: unknown): v is NonNullable<LoraReading['event']> {
  return typeof v === 'string' && (LORA_EVENTS as readonly string[]).includes(v);
}

/** Every known model by id (a device's registry `model`); add a model here and to the table in docs/devices.md. */
export const LORA_MODELS: Readonly<Record<string, LoraModel>> = Object.fromEntries([milesightWs101Sos, codec].map((m) => [m.id, m]));

/** A device registered without `model` is taken to have a codec that speaks our words. */
export const DEFAULT_LORA_MODEL = codec.id;

export function loraModel(id: string | undefined): LoraModel | null {
  return LORA_MODELS[id ?? DEFAULT_LORA_MODEL] ?? null;
}

/** Decodes one uplink: the codec's object when the device profile produced one, else the bytes. */
export function decodeUplink(model: LoraModel, uplink: { object?: Record<string, unknown>; fPort?: number; data?: string }): Decoding {
  if (uplink.object && Object.keys(uplink.object).length > 0) return model.fromObject(uplink.object);
  if (uplink.fPort === undefined || uplink.fPort === 0 || !uplink.data) return ok({});
  return model.fromBytes(uplink.fPort, Buffer.from(uplink.data, 'base64'));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hex(n: number | undefined): string {
  return n === undefined ? '??' : n.toString(16).padStart(2, '0').toUpperCase();
}
