// Routes a device command to where the device listens: our broker for a device that connects itself, its bridge's downlink for a bridged one.
import type { Logger } from '../core/logger.js';
import type { Device } from '../core/types.js';
import type { BridgeKind } from '../core/bridges.js';
import type { DeviceCommand } from '../../devices/commands.js';
import type { BridgeRepo } from './repo.js';

/** What the incident service calls to tell a resident's devices "alarm received", "help is coming", "resolved". */
export interface DeviceCommandSender {
  publishCommand(deviceId: string, command: DeviceCommand): Promise<void>;
}

export type BridgedCommandSender = (device: Device, command: DeviceCommand) => Promise<void>;

export interface BridgeCommandsDeps {
  registry: Pick<BridgeRepo, 'getBridge'> & { getDevice(id: string): Promise<Device | null> };
  /** Devices that connect themselves (the device broker). */
  direct: DeviceCommandSender;
  /** Per bridge kind, how a command reaches its devices; a kind without one cannot carry commands. */
  bridged: Partial<Record<BridgeKind, BridgedCommandSender>>;
  log: Logger;
}

export class BridgeCommands implements DeviceCommandSender {
  constructor(private readonly deps: BridgeCommandsDeps) {}

  async publishCommand(deviceId: string, command: DeviceCommand): Promise<void> {
    const device = await this.deps.registry.getDevice(deviceId);
    if (!device?.bridge) return this.deps.direct.publishCommand(deviceId, command);
    const bridge = await this.deps.registry.getBridge(device.bridge);
    if (!bridge) throw new Error(`device ${deviceId}: its bridge "${device.bridge}" is not in the registry`);
    const send = this.deps.bridged[bridge.kind];
    if (!send) {
      // zigbee2mqtt buttons and vendor clouds have no way back to the fixture: the family and responders still get
      // their SMS; only the device's light or voice is missing.
      this.deps.log.info(
        { deviceId, bridge: bridge.id, kind: bridge.kind, command: command.type },
        'command not sent: this bridge kind cannot carry commands to its devices',
      );
      return;
    }
    await send(device, command);
  }
}
