// What a call says next and how it ended: the words the voice webhooks and the call step share.

/** How a provider's call ended, in the provider's terms mapped to ours. */
export type CallEnd = 'completed' | 'busy' | 'no_answer' | 'failed';

/** What to say next on a call: the page with its key prompt (`gather`), or a last line before hanging up. */
export type CallTurn = { kind: 'gather'; text: string } | { kind: 'say_and_hang_up'; text: string };

/** Which call a callback is about: our id (Twilio URLs), the provider's id (Tencent `callid`), or both. */
export interface CallRef {
  callId?: string | null;
  providerCallId?: string | null;
}
