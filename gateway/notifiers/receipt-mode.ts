// Whether Aliyun/Tencent receipts and replies are pushed to the gateway's callbacks or pulled by polling.
import { isIP } from 'node:net';

export type ReceiptMode = 'push' | 'pull';

export interface ReceiptModeChoice {
  mode: ReceiptMode;
  /** Why, for the start-up log and /healthz. */
  reason: string;
}

/** Loopback, private, link-local and unique-local addresses, and names that only resolve inside a network. */
export function isPrivateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal') || h.endsWith('.lan')) return true;
  if (isIP(h) === 4) {
    const [a = 0, b = 0] = h.split('.').map(Number);
    return (
      a === 10 ||
      a === 127 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (isIP(h) === 6) return h === '::1' || h.startsWith('fc') || h.startsWith('fd') || h.startsWith('fe80');
  // A single-label name (no dot) is a LAN name.
  return !h.includes('.');
}

/**
 * SMS_RECEIPTS=push or pull is followed as set. `auto` (the default) pulls when the providers could not reach the
 * callbacks or the gateway would refuse them: without WEBHOOK_KEY every callback is refused, and a PUBLIC_URL on a
 * private address is unreachable from Aliyun's and Tencent's servers. Otherwise it waits for pushes.
 */
export function chooseReceiptMode(opts: {
  setting: 'auto' | ReceiptMode;
  webhookKey: string | null;
  publicUrl: string;
}): ReceiptModeChoice {
  if (opts.setting !== 'auto') return { mode: opts.setting, reason: `SMS_RECEIPTS=${opts.setting}` };
  if (!opts.webhookKey) return { mode: 'pull', reason: 'no WEBHOOK_KEY: provider callbacks would be refused, so receipts are pulled' };
  const host = new URL(opts.publicUrl).hostname;
  if (isPrivateHost(host))
    return { mode: 'pull', reason: `PUBLIC_URL (${host}) is not reachable from the internet, so receipts are pulled` };
  return { mode: 'push', reason: 'receipts and replies are pushed to PUBLIC_URL/webhooks/…?key=…' };
}
