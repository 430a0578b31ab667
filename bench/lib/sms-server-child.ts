// The Twilio-compatible SMS server in a process of its own, so its HTTP handling and signed delivery callbacks do not share the gateway's event loop (Twilio is not in the gateway's process either).
import { performance } from 'node:perf_hooks';
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { isSmsServerRequest, type SmsServerReply } from './sms-server-protocol.js';

let sim: TwilioSimServer | null = null;

function reply(msg: SmsServerReply): void {
  process.send?.(msg);
}

/** performance.now() of this process on the machine-wide monotonic clock, which the parent shares. */
function monotonicMs(perfNow: number): number {
  return perfNow + (Number(process.hrtime.bigint()) / 1e6 - performance.now());
}

process.on('message', (raw: unknown) => {
  if (!isSmsServerRequest(raw)) return;
  const msg = raw;
  void (async () => {
    switch (msg.type) {
      case 'start': {
        sim = new TwilioSimServer({ accountSid: msg.accountSid, authToken: msg.authToken });
        await sim.start({ port: 0 });
        sim.on('message', (m: { body: string; receivedHr: number }) => reply({ type: 'message', body: m.body, monotonicMs: monotonicMs(m.receivedHr) }));
        reply({ type: 'started', id: msg.id, url: sim.url });
        return;
      }
      case 'counts':
        reply({ type: 'counts', id: msg.id, messages: sim?.messages().length ?? 0, callbacks: sim?.callbacks().length ?? 0 });
        return;
      case 'stop':
        await sim?.stop();
        reply({ type: 'stopped', id: msg.id });
        process.disconnect();
        return;
    }
  })();
});
