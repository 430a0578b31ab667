// An SMS provider's simulator (Twilio, Aliyun or Tencent) in a process of its own, so its HTTP handling and delivery reports do not share the gateway's event loop (the provider is not in the gateway's process either).
import { toMonotonic } from './monotonic.js';
import { isSmsServerRequest, type SmsServerReply } from './sms-server-protocol.js';
import { startSmsSimulator, type SmsSimHandle } from './sms-servers.js';

let sim: SmsSimHandle | null = null;

function reply(msg: SmsServerReply): void {
  process.send?.(msg);
}

process.on('message', (raw: unknown) => {
  if (!isSmsServerRequest(raw)) return;
  const msg = raw;
  void (async () => {
    switch (msg.type) {
      case 'start': {
        sim = await startSmsSimulator(msg.spec);
        sim.on('message', (m) => reply({ type: 'message', body: m.body, monotonicMs: toMonotonic(m.receivedHr) }));
        reply({ type: 'started', id: msg.id, url: sim.url });
        return;
      }
      case 'counts':
        reply({ type: 'counts', id: msg.id, ...(sim?.counts() ?? { messages: 0, callbacks: 0 }) });
        return;
      case 'settled':
        if (sim) await sim.settled();
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
