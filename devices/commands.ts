// Commands the gateway sends to a device on care/v1/<id>/command, so the fixture can light up or say "help is coming".
import { z } from 'zod';

export const COMMAND_TYPES = ['alarm_received', 'responder_assigned', 'resolved'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

/**
 * Extra fields (e.g. the responder's first name for a speaking fixture) are allowed. A command re-sent from the store
 * when the device's session starts carries `resync: true`; a device may get the same (incident, type) twice and must
 * treat it idempotently (docs/protocol.md).
 */
export interface DeviceCommand {
  type: CommandType;
  incident: string;
  [key: string]: unknown;
}

export const deviceCommandSchema = z.object({ type: z.enum(COMMAND_TYPES), incident: z.string().min(1) }).loose();

export function encodeCommand(command: DeviceCommand): Buffer {
  return Buffer.from(JSON.stringify(command), 'utf8');
}
