// What a scenario file says, after parsing: its registry, responders, timed steps and expectations.
import type { CareTaskKind, DeviceKind, EscalationSettings, EventType, IncidentState, IncidentType } from '../../gateway/core/types.js';
import type { BadInput } from '../fleet/device.js';
import type { ResponderConfig } from '../sms/responders.js';

/** A person or phone, as the registry names them: `worker w-01`, `family r-001`, `duty andali`, `volunteer v-01`, `+86…`, `any`. */
export type Who = string;

export type RegistrySource = { kind: 'file'; path: string } | { kind: 'generate'; residents: number; buildings: number };

interface StepBase {
  index: number;
  /** `steps[1] (at 5s, device fall-001)`: how reports and errors name the step. */
  label: string;
  atMs: number;
}

export type Step = StepBase &
  (
    | { kind: 'event'; device: string; event: EventType; payload: Record<string, unknown> }
    | { kind: 'powerCut'; building: string; restoreAfterMs: number | null }
    | { kind: 'dyingBattery'; device: string }
    | { kind: 'storm'; event: 'sos' | 'fall'; overMs: number; deviceKinds: DeviceKind[] | null; count: number | null }
    | { kind: 'bad'; device: string; input: BadInput }
    | { kind: 'reply'; from: Who; body: string }
  );

export type StepKind = Step['kind'];

interface ExpectationBase {
  index: number;
  label: string;
  /** Start of the window, from the first step's time zero. */
  afterMs: number;
  /** Length of the window; null: until the end of the run. */
  withinMs: number | null;
}

export type Expectation = ExpectationBase &
  (
    | { kind: 'sms'; to: Who; contains: string | null; count: number | null }
    | { kind: 'noSms'; to: Who; contains: string | null }
    | { kind: 'incident'; resident: string; state: IncidentState | null; type: IncidentType | null; acknowledgedBy: string | null }
    | { kind: 'incidents'; count: number; state: IncidentState | null; type: IncidentType | null }
    | { kind: 'device'; id: string; state: 'online' | 'offline' }
    | { kind: 'devices'; building: string | null; deviceKind: DeviceKind | null; state: 'online' | 'offline' }
    | { kind: 'outage'; building: string; state: 'open' | 'closed' | null; devices: number | null }
    | { kind: 'outages'; count: number; building: string | null; state: 'open' | 'closed' | null }
    | {
        kind: 'tasks';
        count: number;
        taskKind: CareTaskKind | null;
        building: string | null;
        device: string | null;
        state: 'open' | 'closed' | null;
      }
    | { kind: 'healthy' }
  );

export type ExpectationKind = Expectation['kind'];

export interface Scenario {
  name: string;
  description: string;
  /** Where it was read from (a file path, or a name for text given directly). */
  source: string;
  registry: RegistrySource;
  /** Overrides of the registry's escalation section, written into the temporary copy. */
  escalation: Partial<EscalationSettings>;
  /** Values set in the registry copy: [path, value]; a "*" segment stands for every item of a list. */
  patch: [path: (string | number)[], value: unknown][];
  responders: ResponderConfig;
  timeZone: string;
  steps: Step[];
  expect: Expectation[];
  /** After the last step and window, how long state expectations may still take to come true. */
  settleMs: number;
}

export const STEP_ACTIONS = ['event', 'powerCut', 'dyingBattery', 'storm', 'bad', 'reply'] as const;
export const EXPECTATION_KINDS = [
  'sms',
  'noSms',
  'incident',
  'incidents',
  'device',
  'devices',
  'outage',
  'outages',
  'tasks',
  'healthy',
] as const;
