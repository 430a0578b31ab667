// A OneNET-shaped HTTP pusher: the platform's URL check, then signed plaintext pushes of datapoints and lifecycle messages, as OneNET sends them.
import { randomBytes } from 'node:crypto';
import { onenetSignature } from '../../gateway/bridges/vendor-push/onenet.js';

export interface OnenetPusherOptions {
  /** The gateway's push address: `<base>/ingest/v1/<bridgeId>`. */
  url: string;
  /** The token configured on the push instance (the http bridge's `secret`). */
  token: string;
  /** Clock for the readings' `at` (default Date.now). */
  now?: () => number;
}

export type OnenetReading =
  | {
      type: 1;
      dev_id: number | string;
      ds_id: string;
      at: number;
      value: number | string | boolean | Record<string, number | string | boolean>;
    }
  | { type: 2; dev_id: number | string; at: number; status: 0 | 1; login_type: number };

export interface PushAnswer {
  status: number;
  body: string;
}

/**
 * Speaks to the gateway as OneNET does: a GET URL check when the push instance is saved, then a POST per push whose
 * body carries `msg` (one reading or a batch), `nonce` and `msg_signature` = base64(md5(token + nonce + msg)).
 */
export class OnenetPusher {
  constructor(private readonly opts: OnenetPusherOptions) {}

  /** The URL check: true when the gateway echoes msg. */
  async verifyUrl(): Promise<boolean> {
    const msg = randomBytes(6).toString('hex');
    const nonce = randomBytes(4).toString('hex');
    const signature = onenetSignature(this.opts.token, nonce, msg);
    const res = await fetch(`${this.opts.url}?msg=${msg}&nonce=${nonce}&signature=${encodeURIComponent(signature)}`);
    return res.status === 200 && (await res.text()) === msg;
  }

  /** Pushes readings (one, or a batch as OneNET batches them); a non-2xx answer is OneNET's cue to push again later. */
  async push(readings: OnenetReading | OnenetReading[], token = this.opts.token): Promise<PushAnswer> {
    const msgText = JSON.stringify(readings);
    const nonce = randomBytes(4).toString('base64url').slice(0, 6);
    const body = `{"msg":${msgText},"msg_signature":"${onenetSignature(token, nonce, msgText)}","nonce":"${nonce}"}`;
    const res = await fetch(this.opts.url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: await res.text() };
  }

  /** Pushes until a 2xx, as OneNET retries (here: `attempts` times, `delayMs` apart). */
  async pushUntilTaken(readings: OnenetReading | OnenetReading[], attempts = 5, delayMs = 1000): Promise<PushAnswer> {
    let last: PushAnswer = { status: 0, body: '' };
    for (let i = 0; i < attempts; i++) {
      last = await this.push(readings).catch((err: unknown) => ({ status: 0, body: err instanceof Error ? err.message : String(err) }));
      if (last.status >= 200 && last.status < 300) return last;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    return last;
  }

  sos(devId: number | string): OnenetReading {
    return { type: 1, dev_id: devId, ds_id: 'sos', at: this.now(), value: 1 };
  }

  heartbeat(devId: number | string, battery: number, csq = 22): OnenetReading {
    return { type: 1, dev_id: devId, ds_id: 'data', at: this.now(), value: { heartbeat: 1, battery, csq } };
  }

  lifecycle(devId: number | string, online: boolean): OnenetReading {
    return { type: 2, dev_id: devId, at: this.now(), status: online ? 1 : 0, login_type: 10 };
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

export interface OnenetScenarioResult {
  urlCheck: boolean;
  online: number;
  heartbeat: number;
  sos: number;
  /** A push signed with a wrong token: the gateway must refuse it (403). */
  forged: number;
}

/** The scenario CI runs: URL check, the pendant comes online, a heartbeat, an SOS, and a forged push that must be refused. */
export async function runOnenetScenario(pusher: OnenetPusher, devId: number | string): Promise<OnenetScenarioResult> {
  const urlCheck = await pusher.verifyUrl();
  const retry = [3, 250] as const;
  const online = (await pusher.pushUntilTaken(pusher.lifecycle(devId, true), ...retry)).status;
  const heartbeat = (await pusher.pushUntilTaken(pusher.heartbeat(devId, 87), ...retry)).status;
  const sos = (await pusher.pushUntilTaken(pusher.sos(devId), ...retry)).status;
  const forged = (await pusher.push(pusher.sos(devId), 'not-the-token')).status;
  return { urlCheck, online, heartbeat, sos, forged };
}
