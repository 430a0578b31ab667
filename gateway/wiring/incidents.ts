// Wires the alarm path after the pager: durable timers, escalation, the incident service, calls, the signal processor and SMS replies.
import { BridgeCommands } from '../bridges/commands.js';
import { EscalationEngine } from '../escalation/engine.js';
import { DurableTimers } from '../escalation/timers.js';
import { DeviceStateResync } from '../incidents/device-state.js';
import { SignalProcessor } from '../incidents/processor.js';
import { ReplyRouter } from '../incidents/replies.js';
import { IncidentService } from '../incidents/service.js';
import { IncidentViews } from '../incidents/views.js';
import type { ReceiptPoller } from '../notifiers/receipt-poller.js';
import { receiptPollers } from '../notifiers/receipt-pollers.js';
import { VoiceCalls } from '../voice/calls.js';
import { createVoiceProvider } from '../voice/providers.js';
import type { Base } from './base.js';
import { engineOf } from './storage.js';
import type { DeviceParts } from './devices.js';
import type { PagingInternals, PagingParts } from './paging.js';

export interface IncidentParts {
  timers: DurableTimers;
  incidents: IncidentService;
  processor: SignalProcessor;
  replies: ReplyRouter;
  views: IncidentViews;
  /** The call step of escalation (VOICE_PROVIDER); null when calls are off. */
  voice: VoiceCalls | null;
  /** Aliyun/Tencent receipts (and Tencent replies) pulled when they cannot be pushed; empty otherwise. */
  receiptPollers: ReceiptPoller[];
  /** Re-sends a device its resident's incident state from the store when its MQTT session starts. */
  deviceState: DeviceStateResync;
}

export type IncidentWiring = Base &
  Pick<DeviceParts, 'broker' | 'chirpstack'> &
  PagingParts &
  Pick<PagingInternals, 'pager' | 'replyWindowMs' | 'slowAlarms'>;

export function wireIncidents(w: IncidentWiring): IncidentParts {
  const { config, store, bus, metrics, clock, log, pager } = w;
  // Several nodes: every node arms every timer from the shared table (each still fires once), so a dead node's steps go on.
  const timers = new DurableTimers({
    store,
    clock,
    log: log.child({ part: 'timers' }),
    ...(w.sharedWork ? { shared: w.sharedWork.timers } : {}),
  });
  const engine = new EscalationEngine({
    store,
    timers,
    pager,
    clock,
    log: log.child({ part: 'escalation' }),
    timeZone: config.timeZone,
    onStep: () => metrics.escalationSteps.inc(),
    ...(config.voice ? { voiceAfterSeconds: config.voice.afterSeconds } : {}),
  });
  const incidents = new IncidentService({
    store,
    bus,
    clock,
    log: log.child({ part: 'incidents' }),
    timeZone: config.timeZone,
    timers,
    engine,
    pager,
    // PostgreSQL can crash under a running node, which then never restarts to replay what an unsynced commit lost.
    signalsDurability: engineOf(store) === 'postgresql' ? 'full' : 'normal',
    stages: w.slowAlarms,
    commands: new BridgeCommands({
      registry: store.registry,
      direct: w.broker,
      bridged: { chirpstack: (device, command) => w.chirpstack.sendCommand(device, command) },
      log: log.child({ part: 'commands' }),
    }),
  });
  // Voice calls: a worker whose SMS page is unanswered VOICE_AFTER_SECONDS later is called.
  const voice = config.voice
    ? new VoiceCalls({
        store,
        provider: createVoiceProvider(config.voice, config.twilio, config.publicUrl, log.child({ part: 'voice' })),
        incidents,
        bus,
        clock,
        log: log.child({ part: 'voice' }),
        timeZone: config.timeZone,
        webhookKey: config.voice.webhookKey,
        timers,
        ...(w.sharedWork ? { leasing: w.sharedWork.calls } : {}),
      })
    : null;
  // One handler for every durable timer: the call step's timers go to the calls, the rest to the incidents.
  timers.setHandler((timer) => (timer.kind === 'voice_call' && voice ? voice.onTimer(timer) : incidents.onTimer(timer)));
  const processor = new SignalProcessor({
    store,
    service: incidents,
    clock,
    log: log.child({ part: 'signals' }),
    ...(w.sharedWork ? { adopt: w.sharedWork.signals } : {}),
  });
  const replies = new ReplyRouter({
    store,
    incidents,
    pager,
    clock,
    replyWindowMs: w.replyWindowMs,
    log: log.child({ part: 'replies' }),
    onDuplicate: (provider) => metrics.smsInboundDuplicate.inc({ provider }),
  });
  const pollers = receiptPollers({
    providers: [w.provider, w.fallbackProvider],
    setting: config.smsReceipts ?? 'auto',
    webhookKey: config.webhookKey ?? null,
    publicUrl: config.publicUrl,
    store: store.sms,
    receipts: w.dispatcher,
    replies,
    clock,
    log: log.child({ part: 'sms' }),
  });
  const views = new IncidentViews({ store, service: incidents });
  // A queued downlink lives in the broker's session (memory, or Redis on a cluster) and can be lost; the store cannot.
  const deviceState = new DeviceStateResync({
    incidents: store.incidents,
    sessions: store.sessionStarts,
    commands: w.broker,
    bus,
    clock,
    log: log.child({ part: 'device-state' }),
  });
  return { timers, incidents, processor, replies, views, voice, receiptPollers: pollers, deviceState };
}
