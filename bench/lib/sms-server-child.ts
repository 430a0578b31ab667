// The Twilio-compatible SMS server in a process of its own, so its HTTP handling and signed delivery callbacks do not share the gateway's event loop (Twilio is not in the gateway's process either).
import { TwilioSimServer } from '../../simulators/sms/twilio-server.js';
import { toMonotonic } from './monotonic.js';
import { isSmsServerRequest, settled, type SmsServerReply } from './sms-server-protocol.js';

let sim: TwilioSimServer | null = null;

function reply(msg: SmsServerReply): void {
  process.send?.(msg);
}

process.on('message', (raw: unknown) => {
  if (!isSmsServerRequest(raw)) return;
  const msg = raw;
  void (async () => {
    switch (msg.type) {
      case 'start': {
        sim = new TwilioSimServer({ accountSid: msg.accountSid, authToken: msg.authToken });
        await sim.start({ port: 0 });
        sim.on('message', (m: { body: string; receivedHr: number }) => reply({ type: 'message', body: m.body, monotonicMs: toMonotonic(m.receivedHr) }));
        reply({ type: 'started', id: msg.id, url: sim.url });
        return;
      }
      case 'counts':
        reply({ type: 'counts', id: msg.id, ...(sim?.counts() ?? { messages: 0, callbacks: 0 }) });
        return;
      case 'settled':
        if (sim) await settled(sim);
        reply({ type: 'settled', id: msg.id });
        return;
      case 'stop':
        await sim?.stop();
        reply({ type: 'stopped', id: msg.id });
        process.disconnect();
        return;
    }
  })();
});
