// Test helpers for SMS: a local receiver for Twilio webhooks that checks signatures, and a polling wait.
import { createServer, type Server } from 'node:http';
import { text } from 'node:stream/consumers';
import twilio from 'twilio';

export interface ReceivedWebhook {
  path: string;
  params: Record<string, string>;
  signature: string;
  /** What twilio.validateRequest said about the signature. */
  valid: boolean;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 and answers 200 for a valid X-Twilio-Signature (over `signedBaseUrl` or its own
 * address, plus the path), 403 otherwise. `onValid` sees each
 * validly signed webhook (e.g. to hand it to the dispatcher) before the answer.
 */
export async function startWebhookReceiver(
  authToken: string,
  onValid: (hook: ReceivedWebhook) => Promise<void> | void = () => undefined,
  opts: { signedBaseUrl?: string } = {},
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let baseUrl = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const params = Object.fromEntries(new URLSearchParams(await text(req)));
      const signature = String(req.headers['x-twilio-signature'] ?? '');
      const path = req.url ?? '/';
      const hook = { path, params, signature, valid: twilio.validateRequest(authToken, signature, (opts.signedBaseUrl ?? baseUrl) + path, params) };
      received.push(hook);
      if (hook.valid) await onValid(hook);
      res.writeHead(hook.valid ? 200 : 403, { 'content-type': 'text/xml' }).end('<Response/>');
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('receiver has no port');
  baseUrl = `http://127.0.0.1:${addr.port}`;
  return {
    url: baseUrl,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
