// Sends a webhook the way Twilio does: form-encoded, signed with X-Twilio-Signature over the configured URL.
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import twilio from 'twilio';

export interface SignedPostResult {
  status: number;
  body: string;
  signature: string;
}

export interface SignedPost {
  authToken: string;
  /** The URL Twilio was configured with; the signature covers this one. */
  signedUrl: string;
  /** Where the request actually goes (differs from signedUrl behind a proxy or port mapping). */
  deliverTo: string;
  params: Record<string, string>;
  signal: AbortSignal;
  timeoutMs?: number;
}

/**
 * node:http rather than fetch: the simulator posts three callbacks per SMS, and fetch with a combined abort signal
 * allocates several times more per request, which in the benchmarks showed up as the simulator's own GC pauses.
 */
export async function postSigned(p: SignedPost): Promise<SignedPostResult> {
  const signature = twilio.getExpectedTwilioSignature(p.authToken, p.signedUrl, p.params);
  const body = new URLSearchParams(p.params).toString();
  const url = new URL(p.deliverTo);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const timeoutMs = p.timeoutMs ?? 10_000;
  return new Promise<SignedPostResult>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        signal: p.signal,
        headers: {
          'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          'x-twilio-signature': signature,
          'i-twilio-idempotency-token': randomUUID(),
          'user-agent': 'TwilioProxy/1.1',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), signature }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`webhook to ${url.origin}${url.pathname} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
