// Sends a webhook the way Twilio does: form-encoded, signed with X-Twilio-Signature over the configured URL.
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

export async function postSigned(p: SignedPost): Promise<SignedPostResult> {
  const signature = twilio.getExpectedTwilioSignature(p.authToken, p.signedUrl, p.params);
  const res = await fetch(p.deliverTo, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'x-twilio-signature': signature,
      'i-twilio-idempotency-token': crypto.randomUUID(),
      'user-agent': 'TwilioProxy/1.1',
    },
    body: new URLSearchParams(p.params).toString(),
    signal: AbortSignal.any([p.signal, AbortSignal.timeout(p.timeoutMs ?? 10_000)]),
  });
  return { status: res.status, body: await res.text(), signature };
}
