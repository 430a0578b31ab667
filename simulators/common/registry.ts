// The registry document as the simulators read it: devices with their secrets and buildings, and every phone with who it belongs to.
import { loadRegistryFile, validateRegistry } from '../../gateway/registry/load.js';
import type { ValidatedRegistry } from '../../gateway/registry/schema.js';
import type { DeviceKind, EscalationSettings } from '../../gateway/core/types.js';
import { DEFAULT_ESCALATION } from '../../gateway/core/types.js';

/** A fixture the simulators can connect as: its credentials and where it hangs. */
export interface SimDeviceSpec {
  id: string;
  kind: DeviceKind;
  secret: string;
  resident: string;
  building: string;
  community: string;
}

export type PhoneRole = 'worker' | 'family' | 'duty' | 'volunteer';

/** One phone the gateway may text, and whose it is. */
export interface PhoneEntry {
  phone: string;
  role: PhoneRole;
  /** The id a scenario names it by: worker / volunteer id, resident id (family), community id (duty). */
  ref: string;
  name: string;
}

const ROLES: readonly PhoneRole[] = ['worker', 'family', 'duty', 'volunteer'];

/** Phones of a "who" string that matches every phone. */
export const ANY_PHONE = 'any';

export class SimRegistry {
  private constructor(
    readonly path: string,
    readonly doc: ValidatedRegistry,
    readonly devices: readonly SimDeviceSpec[],
    readonly phones: readonly PhoneEntry[],
  ) {}

  /** Reads and validates a JSON or YAML registry file; errors name the file and the problem. */
  static async load(path: string): Promise<SimRegistry> {
    const file = await loadRegistryFile(path);
    let doc: ValidatedRegistry;
    try {
      doc = validateRegistry(file.doc);
    } catch (err) {
      throw new Error(`registry file ${file.path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return SimRegistry.fromDocument(doc, file.path);
  }

  static fromDocument(doc: ValidatedRegistry, path: string): SimRegistry {
    const residents = new Map(doc.residents.map((r) => [r.id, r]));
    // Devices that connect themselves; those on a bridge are driven through their bridge's simulator.
    const devices = doc.devices.flatMap((d): SimDeviceSpec[] => {
      if (d.secret === undefined) return [];
      const resident = residents.get(d.resident);
      return [
        {
          id: d.id,
          kind: d.kind,
          secret: d.secret,
          resident: d.resident,
          building: resident?.building ?? '',
          community: resident?.community ?? '',
        },
      ];
    });
    const phones: PhoneEntry[] = [
      ...doc.workers.map((w) => ({ phone: w.phone, role: 'worker' as const, ref: w.id, name: w.name })),
      ...doc.residents.flatMap((r) => r.family.map((f) => ({ phone: f.phone, role: 'family' as const, ref: r.id, name: f.name }))),
      ...doc.communities.flatMap((c) => c.dutyContacts.map((d) => ({ phone: d.phone, role: 'duty' as const, ref: c.id, name: d.name }))),
      ...doc.volunteers.map((v) => ({ phone: v.phone, role: 'volunteer' as const, ref: v.id, name: v.name })),
    ];
    return new SimRegistry(path, doc, devices, phones);
  }

  get escalation(): EscalationSettings {
    return { ...DEFAULT_ESCALATION, ...this.doc.escalation };
  }

  device(id: string): SimDeviceSpec | undefined {
    return this.devices.find((d) => d.id === id);
  }

  buildings(): string[] {
    return [...new Set(this.devices.map((d) => d.building))].sort();
  }

  /** "worker w-01 李明" for a known phone, else the phone itself. */
  label(phone: string): string {
    const e = this.phones.find((p) => p.phone === phone);
    return e ? `${e.role} ${e.ref} ${e.name}` : phone;
  }

  /**
   * The phones a "who" string names: `worker w-01`, `family r-001` (every family member), `duty andali`
   * (the community's duty phones), `volunteer v-01`, `worker *` (every one of a role), a phone number, or `any`.
   * Throws a sentence saying why not.
   */
  resolve(who: string): string[] {
    const text = who.trim();
    if (text === ANY_PHONE) return [...new Set(this.phones.map((p) => p.phone))];
    if (/^\+\d{7,15}$/.test(text)) return [text];
    const [role, ref, ...rest] = text.split(/\s+/);
    if (!role || !ref || rest.length > 0 || !(ROLES as readonly string[]).includes(role)) {
      throw new Error(
        `"${who}" names nobody: write "worker <id>", "family <resident id>", "duty <community id>", "volunteer <id>" (or "*" for all of a role), a phone such as "+8613900000001", or "any"`,
      );
    }
    const found = this.phones.filter((p) => p.role === role && (ref === '*' || p.ref === ref)).map((p) => p.phone);
    if (found.length === 0) throw new Error(`"${who}": the registry has no ${role} phone${ref === '*' ? '' : ` for "${ref}"`}`);
    return [...new Set(found)];
  }
}
