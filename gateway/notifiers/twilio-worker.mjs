// The SMS sender thread: runs the Twilio SDK (request building, axios, TLS to api.twilio.com, parsing the answer) off
// the gateway's event loop, so that an alarm's processing never waits behind another message's send.
// Plain JavaScript: a worker thread starts without the TypeScript loader.
// In: { type: 'send', id, sms }. Out: { type: 'ready' } once the SDK is loaded, then for each send
// { type: 'answered', id, outcome } with Twilio's answer or the failure (see createTwilioSender).
// Its types are JSDoc, checked by tsc (checkJs) against the owner's (sender-thread.ts).
// @ts-check
import { parentPort, workerData } from 'node:worker_threads';
import { createTwilioSender } from './twilio-sdk.mjs';

if (!parentPort) throw new Error('twilio-worker.mjs runs only as a worker thread');
const port = parentPort;
/** @type {import('./twilio-sdk.mjs').TwilioSenderOptions} */
const options = workerData;
const send = createTwilioSender(options);

/** @param {import('./sender-thread.js').Reply} answer */
function reply(answer) {
  port.postMessage(answer);
}

port.on('message', (/** @type {{ type?: string, id: number, sms: import('./twilio-sdk.mjs').TwilioSms } | null} */ message) => {
  if (message?.type !== 'send') return;
  const { id, sms } = message;
  void send(sms).then((outcome) => reply({ type: 'answered', id, outcome }));
});
reply({ type: 'ready' });
