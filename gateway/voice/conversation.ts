// A call in progress: what it says when answered, what a pressed key does, and how its end moves escalation on.
import type { Clock } from '../core/clock.js';
import { GatewayError } from '../core/errors.js';
import type { Incident, Responder } from '../core/types.js';
import type { VoiceProviderName } from '../notifiers/intent.js';
import type { Store } from '../storage/ports.js';
import { OPEN_CALL_STATUSES, type CallStatus, type VoiceCall } from './repo.js';
import { SAID_ACKNOWLEDGED, SAID_DECLINED, SAID_NO_KEY, SAID_WRONG_KEY, callScript, takenByOther, type CallScript } from './script.js';
import type { CallEnd, CallRef, CallTurn } from './turns.js';

/** What a key pressed on a call does to the incident (gateway/incidents IncidentService). */
export interface CallAnswerIncidents {
  acknowledge(id: string, by: Responder, channel: 'voice'): Promise<Incident>;
  decline(id: string, by: Responder, channel: 'voice', pagedAtStep: number | null): Promise<Incident>;
}

export interface CallConversationDeps {
  store: Pick<Store, 'registry' | 'incidents' | 'sms' | 'voice'>;
  incidents: CallAnswerIncidents;
  clock: Clock;
  timeZone: string;
  /** The voice provider's name: a callback that names only the provider's call id is looked up under it. */
  provider: VoiceProviderName;
  /** A call that ended without reaching the responder: the next responder is paged at once. */
  passOn(call: VoiceCall, reason: string, detail: Record<string, unknown>): Promise<void>;
}

export class CallConversation {
  constructor(private readonly deps: CallConversationDeps) {}

  /** What the call says when the phone answers (Twilio fetches it), or null for an unknown call. */
  async answered(callId: string, providerCallId: string): Promise<CallTurn | null> {
    const call = await this.find({ callId, providerCallId });
    if (!call) return null;
    const incident = await this.deps.store.incidents.get(call.incidentId);
    await this.deps.store.voice.transition(call.id, ['queued', 'placing', 'ringing'], {
      status: 'in_progress',
      updatedAt: this.deps.clock.now(),
    });
    if (!incident) return { kind: 'say_and_hang_up', text: SAID_NO_KEY };
    const taken = this.takenText(incident, call);
    if (taken) {
      await this.deps.store.voice.transition(call.id, OPEN_CALL_STATUSES, { status: 'not_needed', updatedAt: this.deps.clock.now() });
      return { kind: 'say_and_hang_up', text: taken };
    }
    return { kind: 'gather', text: (await this.scriptFor(incident)).text };
  }

  /**
   * A key pressed on the call. 1 acknowledges exactly as an SMS "1" does, 2 passes it on, * (or any other key) plays
   * the page again. Returns what the call says next.
   */
  async keyPressed(ref: CallRef, key: string): Promise<CallTurn | null> {
    const { store, clock } = this.deps;
    const call = await this.find(ref);
    if (!call) return null;
    const incident = await store.incidents.get(call.incidentId);
    if (!incident) return { kind: 'say_and_hang_up', text: SAID_NO_KEY };
    if (key === '*') return { kind: 'gather', text: (await this.scriptFor(incident)).text };
    if (key !== '1' && key !== '2') return { kind: 'gather', text: `${SAID_WRONG_KEY}${(await this.scriptFor(incident)).text}` };
    const taken = this.takenText(incident, call);
    if (taken) return { kind: 'say_and_hang_up', text: taken };
    const outcome: CallStatus = key === '1' ? 'acknowledged' : 'declined';
    if (!(await store.voice.transition(call.id, OPEN_CALL_STATUSES, { status: outcome, key, updatedAt: clock.now() }))) {
      // A second press, or a provider's retry of the same one: acted on once.
      return { kind: 'say_and_hang_up', text: key === '1' ? SAID_ACKNOWLEDGED : SAID_DECLINED };
    }
    const by: Responder = { role: call.role, id: call.personId, name: call.name, phone: call.to };
    // The page is answered, as by an SMS reply: a later "1" or "2" to the SMS must not act on it again.
    await store.sms.markAnswered(call.to, call.incidentId, clock.now());
    if (key === '1') {
      try {
        await this.deps.incidents.acknowledge(call.incidentId, by, 'voice');
        return { kind: 'say_and_hang_up', text: SAID_ACKNOWLEDGED };
      } catch (err) {
        if (!(err instanceof GatewayError) || err.code !== 'GW_ERR_INVALID_TRANSITION') throw err;
        const now = await store.incidents.get(call.incidentId);
        return { kind: 'say_and_hang_up', text: now?.acknowledgedBy ? takenByOther(now.acknowledgedBy.name) : SAID_DECLINED };
      }
    }
    await this.deps.incidents.decline(call.incidentId, by, 'voice', call.step);
    return { kind: 'say_and_hang_up', text: SAID_DECLINED };
  }

  /**
   * The call ended. Answered with no key is no acknowledgement; busy, no answer and failure likewise: each moves
   * escalation on at once. A call that already has its outcome (a key) is left as it is.
   */
  async ended(ref: CallRef, end: CallEnd, detail: Record<string, unknown> = {}): Promise<boolean> {
    const { store, clock } = this.deps;
    const call = await this.find(ref);
    if (!call) return false;
    const status: CallStatus =
      end === 'completed'
        ? call.status === 'in_progress'
          ? 'answered_no_key'
          : 'no_answer'
        : end === 'busy'
          ? 'busy'
          : end === 'no_answer'
            ? 'no_answer'
            : 'failed';
    const now = clock.now();
    if (!(await store.voice.transition(call.id, OPEN_CALL_STATUSES, { status, endedAt: now, updatedAt: now }))) return true;
    await this.deps.passOn(call, `call_${status}`, detail);
    return true;
  }

  /** The phone is ringing, or was answered (providers that report it apart from fetching instructions). */
  async progressed(ref: CallRef, to: 'ringing' | 'in_progress'): Promise<boolean> {
    const call = await this.find(ref);
    if (!call) return false;
    const from: CallStatus[] = to === 'ringing' ? ['queued', 'placing'] : ['queued', 'placing', 'ringing'];
    await this.deps.store.voice.transition(call.id, from, { status: to, updatedAt: this.deps.clock.now() });
    return true;
  }

  /** The page as the call speaks it: the resident, what happened and when. */
  async scriptFor(incident: Incident): Promise<CallScript> {
    const resident = await this.deps.store.registry.getResident(incident.residentId);
    const who = resident ?? { name: '一位老人', address: '' };
    return callScript({
      resident: who,
      type: incident.type,
      at: incident.openedAt,
      now: this.deps.clock.now(),
      timeZone: this.deps.timeZone,
    });
  }

  private takenText(incident: Incident, call: VoiceCall): string | null {
    if (incident.state === 'open' || incident.state === 'pending') return null;
    if (incident.acknowledgedBy && incident.acknowledgedBy.phone !== call.to) return takenByOther(incident.acknowledgedBy.name);
    return incident.state === 'acknowledged' ? SAID_ACKNOWLEDGED : '此求助已处理完毕，谢谢。';
  }

  private async find(ref: CallRef): Promise<VoiceCall | null> {
    const { voice } = this.deps.store;
    if (ref.callId) {
      const call = await voice.get(ref.callId);
      // Twilio's callbacks carry our id in the URL and its CallSid in the form: both must name the same call.
      if (call && ref.providerCallId && call.providerCallId && call.providerCallId !== ref.providerCallId) return null;
      return call;
    }
    return ref.providerCallId ? voice.getByProviderId(this.deps.provider, ref.providerCallId) : null;
  }
}
