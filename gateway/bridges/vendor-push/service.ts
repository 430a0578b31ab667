// Vendor-cloud HTTP push: authenticates a push for an `http` bridge (OneNET token or HMAC), maps it, and answers only after the durable record.
import type { Clock } from '../../core/clock.js';
import { GatewayError, errorMessage } from '../../core/errors.js';
import type { EventBus } from '../../core/events.js';
import type { Logger } from '../../core/logger.js';
import type { Rejection, SecurityEvent } from '../../core/types.js';
import type { HttpBridge } from '../../core/bridges.js';
import { DeviceLimiter, type DeviceLimits } from '../../ingest/device-limits.js';
import type { IngestEvents } from '../../ingest/events.js';
import type { DeviceHealthRepo, SecurityEventRepo } from '../../storage/ports.js';
import type { BridgeRepo } from '../repo.js';
import type { BridgeSink } from '../sink.js';
import { HMAC_SIGNATURE_HEADER, HMAC_TIMESTAMP_HEADER, readHmacPush, verifyHmac } from './hmac.js';
import { onenetSignature, readOnenetPush, sameSignature } from './onenet.js';
import { PushFormatError, type VendorMessage } from './types.js';

export interface VendorPushDeps {
  bridges: Pick<BridgeRepo, 'getBridge'>;
  sink: Pick<BridgeSink, 'device' | 'accept'>;
  store: { health: Pick<DeviceHealthRepo, 'recordRejection'>; security: Pick<SecurityEventRepo, 'record'> };
  bus: EventBus<Pick<IngestEvents, 'signalRejected' | 'securityEvent'>>;
  clock: Clock;
  log: Logger;
  /** Pushes per bridge that carry no alarm; over it: 429 and the vendor sends again later. Alarms are never limited. */
  limits?: DeviceLimits;
}

/** A vendor cloud pushes far less than a coordinator: a few hundred pendants, each a reading every few minutes. */
export const PUSH_LIMITS: DeviceLimits = {
  ratePerMinute: 300,
  burst: 100,
  dailyMessages: 0,
  dailyBytes: 0,
  disconnectAfter: Number.MAX_SAFE_INTEGER,
};
/** Refused pushes recorded as security events per bridge and minute; past it one log line says more were refused. */
const SECURITY_EVENTS_PER_MINUTE = 20;

export interface PushRequest {
  raw: Buffer;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string | null;
  arrivedHr?: number;
}

export interface PushResult {
  /** Readings recorded (or absorbed as resends of ones recorded before). */
  accepted: number;
  /** Readings acknowledged but not acted on: an unknown device, an unknown datastream. */
  rejected: { source: string; reason: string }[];
}

export class VendorPush {
  private readonly limiter: DeviceLimiter;
  private readonly refusals = new Map<string, { minute: number; recorded: number }>();

  constructor(private readonly deps: VendorPushDeps) {
    this.limiter = new DeviceLimiter(deps.limits ?? PUSH_LIMITS);
  }

  /**
   * OneNET's URL check (GET with msg, nonce, signature): the msg to echo when the signature is the bridge's token's.
   * Throws 404 for a bridge that is not an `onenet` http bridge, 401 without the parameters, 403 for a wrong signature.
   */
  async verifyUrl(
    bridgeId: string,
    query: { msg?: string; nonce?: string; signature?: string },
    remoteAddress: string | null,
  ): Promise<string> {
    const bridge = await this.httpBridge(bridgeId, remoteAddress);
    if (bridge.auth !== 'onenet')
      throw new GatewayError('GW_ERR_NOT_FOUND', `bridge ${bridgeId} takes HMAC-signed pushes; it has no URL check`);
    const { msg, nonce, signature } = query;
    if (!msg || !nonce || !signature) {
      await this.refuse(bridgeId, remoteAddress, 'URL check without msg, nonce and signature');
      throw new GatewayError('GW_ERR_UNAUTHORIZED', 'msg, nonce and signature are required');
    }
    // A '+' of the base64 signature arrives as a space when the sender did not percent-encode it.
    const expected = onenetSignature(bridge.secret, nonce, msg);
    if (!sameSignature(expected, signature) && !sameSignature(expected, signature.replace(/ /g, '+'))) {
      await this.refuse(bridgeId, remoteAddress, "URL check with a signature that is not the token's");
      throw new GatewayError('GW_ERR_BAD_SIGNATURE', 'signature does not match the bridge token');
    }
    this.deps.log.info({ bridgeId }, 'OneNET URL check passed');
    return msg;
  }

  /**
   * One push. Resolves once every reading in it is durably recorded, so the caller may answer 2xx; throws a
   * GatewayError otherwise: 404 (no such http bridge), 401/403 (not signed by it), 400 (not a push), 429 (a flood of
   * non-alarm pushes), 503 (not recorded: the vendor must send it again).
   */
  async push(bridgeId: string, req: PushRequest): Promise<PushResult> {
    const bridge = await this.httpBridge(bridgeId, req.remoteAddress);
    const messages = await this.authenticate(bridge, req);
    const alarm = messages.some((m) => m.events.some((e) => e.type === 'sos' || e.type === 'fall' || e.type === 'cancel'));
    if (!alarm && !this.limiter.admit(bridgeId, req.raw.length, this.deps.clock.now()).admit) {
      throw new GatewayError(
        'GW_ERR_RATE_LIMITED',
        `bridge ${bridgeId} is over ${(this.deps.limits ?? PUSH_LIMITS).ratePerMinute} pushes a minute; alarms are still taken`,
      );
    }
    const result: PushResult = { accepted: 0, rejected: [] };
    const work: Promise<void>[] = [];
    for (const m of messages) {
      const device = await this.deps.sink.device(bridgeId, m.externalId, m.source, req.raw.subarray(0, 800));
      if (!device) {
        result.rejected.push({ source: m.source, reason: `unknown device "${m.externalId}" on bridge ${bridgeId}` });
        continue;
      }
      if (m.unmapped) {
        result.rejected.push({ source: m.source, reason: m.unmapped });
        await this.reject({
          deviceId: device.id,
          topic: m.source,
          reason: 'unknown_type',
          detail: m.unmapped,
          receivedAt: this.deps.clock.now(),
          payloadExcerpt: '',
        });
      }
      if (m.events.length === 0 && !m.telemetry && !m.state) continue;
      result.accepted++;
      work.push(
        this.deps.sink.accept(device, {
          bridgeId,
          source: m.source,
          delivery: { kind: 'key', key: m.key },
          bytes: req.raw.length,
          remoteAddress: req.remoteAddress,
          events: m.events,
          ...(m.telemetry ? { telemetry: m.telemetry } : {}),
          ...(m.state ? { state: m.state } : {}),
          ...(m.deviceTime ? { deviceTime: m.deviceTime } : {}),
          ...(req.arrivedHr !== undefined ? { arrivedHr: req.arrivedHr } : {}),
        }),
      );
    }
    // All readings of the push share one group commit; if any failed, the whole push is answered 503 and sent again
    // (the readings already recorded are absorbed by their keys).
    const settled = await Promise.allSettled(work);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      this.deps.log.error(
        { bridgeId, err: errorMessage(failed.reason) },
        'vendor push not recorded; answered 503 so the vendor sends it again',
      );
      throw new GatewayError('GW_ERR_NOT_RECORDED', 'the push could not be recorded; send it again');
    }
    return result;
  }

  /** Checks the push's signature with the bridge's scheme and reads it. */
  private async authenticate(bridge: HttpBridge, req: PushRequest): Promise<VendorMessage[]> {
    const text = req.raw.toString('utf8');
    if (bridge.auth === 'hmac') {
      const verdict = verifyHmac(
        bridge.secret,
        { signature: header(req.headers, HMAC_SIGNATURE_HEADER), timestamp: header(req.headers, HMAC_TIMESTAMP_HEADER) },
        req.raw,
        this.deps.clock.now(),
      );
      if (!verdict.ok) {
        await this.refuse(bridge.id, req.remoteAddress, verdict.detail);
        throw new GatewayError(verdict.status === 401 ? 'GW_ERR_UNAUTHORIZED' : 'GW_ERR_BAD_SIGNATURE', verdict.detail);
      }
      return this.read(bridge.id, req, () => readHmacPush(text));
    }
    // OneNET signs inside the body: it must be read before it can be checked, and nothing in it is used unless it checks.
    const push = await this.read(bridge.id, req, () => readOnenetPush(text));
    if (!sameSignature(onenetSignature(bridge.secret, push.nonce, push.msgText), push.signature)) {
      await this.refuse(bridge.id, req.remoteAddress, "msg_signature is not the bridge token's signature of the msg");
      throw new GatewayError('GW_ERR_BAD_SIGNATURE', 'msg_signature does not match the bridge token');
    }
    return push.messages;
  }

  private async read<T>(bridgeId: string, req: PushRequest, parse: () => T): Promise<T> {
    try {
      return parse();
    } catch (err) {
      if (!(err instanceof PushFormatError)) throw err;
      await this.reject({
        deviceId: bridgeId,
        topic: `/ingest/v1/${bridgeId}`,
        reason: 'invalid_payload',
        detail: err.message,
        receivedAt: this.deps.clock.now(),
        payloadExcerpt: req.raw.subarray(0, 800).toString('utf8').slice(0, 200),
      });
      throw new GatewayError('GW_ERR_BAD_REQUEST', err.message);
    }
  }

  private async httpBridge(bridgeId: string, remoteAddress: string | null): Promise<HttpBridge> {
    const bridge = await this.deps.bridges.getBridge(bridgeId);
    if (bridge?.kind === 'http') return bridge;
    await this.refuse(bridgeId, remoteAddress, bridge ? `bridge is of kind ${bridge.kind}, not http` : 'no such bridge');
    throw new GatewayError('GW_ERR_NOT_FOUND', `no http bridge "${bridgeId.slice(0, 64)}"`);
  }

  /** A refused push is a security event (an unsigned or forged push, a probe), recorded at a bounded rate per bridge. */
  private async refuse(bridgeId: string, remoteAddress: string | null, detail: string): Promise<void> {
    const minute = Math.floor(this.deps.clock.now() / 60_000);
    const key = bridgeId.slice(0, 64);
    let count = this.refusals.get(key);
    if (!count || count.minute !== minute) {
      if (this.refusals.size > 1000) this.refusals.clear();
      count = { minute, recorded: 0 };
      this.refusals.set(key, count);
    }
    if (count.recorded >= SECURITY_EVENTS_PER_MINUTE) {
      if (count.recorded++ === SECURITY_EVENTS_PER_MINUTE)
        this.deps.log.warn({ bridgeId: key }, 'more vendor pushes refused this minute; not recorded one by one');
      return;
    }
    count.recorded++;
    const event: SecurityEvent = {
      kind: 'auth_failed',
      at: this.deps.clock.now(),
      deviceId: null,
      clientId: `bridge:${key}`,
      remoteAddress,
      detail: `vendor push refused: ${detail}`,
    };
    this.deps.log.warn({ security: event }, 'vendor push refused');
    this.deps.bus.emit('securityEvent', event);
    try {
      await this.deps.store.security.record(event);
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err) }, 'could not record a security event');
    }
  }

  private async reject(rejection: Rejection): Promise<void> {
    this.deps.log.warn(
      { deviceId: rejection.deviceId, reason: rejection.reason, detail: rejection.detail },
      'vendor push reading rejected',
    );
    this.deps.bus.emit('signalRejected', rejection);
    try {
      await this.deps.store.health.recordRejection(rejection);
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err) }, 'could not record a rejection');
    }
  }
}

function header(headers: PushRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
