// The domestic SMS sender thread: runs the Aliyun or Tencent SDK (building and signing SendSms, the HTTP exchange,
// parsing the answer) off the gateway's event loop, so that an alarm's processing never waits behind another
// message's send. Plain JavaScript: a worker thread starts without the TypeScript loader.
// In: { type: 'send', id, sms }. Out: { type: 'ready' } once the SDK is loaded, then for each send
// { type: 'answered', id, outcome } with the provider's answer or the failure (see createDomesticSender).
// @ts-check
import { parentPort, workerData } from 'node:worker_threads';
import { createDomesticSender } from './domestic-sdk.mjs';

if (!parentPort) throw new Error('domestic-worker.mjs runs only as a worker thread');
const port = parentPort;
/** @type {import('./domestic-sdk.mjs').DomesticSenderOptions} */
const options = workerData;
const sender = createDomesticSender(options);

/** @param {import('./sender-thread.js').Reply<import('./domestic-sdk.mjs').DomesticOutcome>} answer */
function reply(answer) {
  port.postMessage(answer);
}

port.on('message', (/** @type {{ type?: string, id: number, sms: import('./domestic-sdk.mjs').DomesticSms } | null} */ message) => {
  if (message?.type !== 'send') return;
  const { id, sms } = message;
  void sender.send(sms).then((outcome) => reply({ type: 'answered', id, outcome }));
});
reply({ type: 'ready' });
