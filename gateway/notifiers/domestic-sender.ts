// Aliyun's and Tencent's SendSms off the event loop: a sender thread running their SDK (domestic-worker.mjs), and the same
// SDK code on the loop only once no thread can start.
import type { Logger } from '../core/logger.js';
import { createDomesticSender, type DomesticOutcome, type DomesticSenderOptions, type DomesticSms } from './domestic-sdk.mjs';
import { ThreadedSender, type SenderThreadSettings } from './threaded-sender.js';

const WORKER = new URL('./domestic-worker.mjs', import.meta.url);
/** How long past the request timeout a send may go unanswered before its thread counts as stuck. */
const WATCHDOG_GRACE_MS = 5_000;

export function domesticSender(
  label: string,
  options: DomesticSenderOptions,
  settings: SenderThreadSettings | undefined,
  log: Logger,
): ThreadedSender<DomesticSms, DomesticOutcome> {
  return new ThreadedSender<DomesticSms, DomesticOutcome>({
    label,
    url: settings?.url ?? WORKER,
    workerData: options,
    watchdogMs: settings?.watchdogMs ?? options.timeoutMs + WATCHDOG_GRACE_MS,
    maxStartFailures: settings?.maxStartFailures,
    inline: () => createDomesticSender(options).send,
    fault: (code, message) => ({ ok: false, failure: { statusCode: null, httpCode: null, code, message } }),
    log,
  });
}
