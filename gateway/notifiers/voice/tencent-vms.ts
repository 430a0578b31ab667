// Tencent Cloud VMS SendTtsVoice through tencentcloud-sdk-nodejs-common's CommonClient (TC3-HMAC-SHA256 signed).
import { Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import { CommonClient } from 'tencentcloud-sdk-nodejs-common';
import { errorMessage } from '../../core/errors.js';
import { VoiceCallError, type OutgoingCall, type PlacedCall, type VoiceProvider } from './port.js';

export const TENCENT_VMS_HOST = 'vms.tencentcloudapi.com';
const VMS_VERSION = '2020-09-02';

export interface TencentVmsDeps {
  secretId: string;
  secretKey: string;
  region: string;
  /** TENCENT_VMS_SDK_APP_ID: the voice application. */
  sdkAppId: string;
  /** The approved TTS template whose {1}…{4} take the call script's parts. */
  templateId: string;
  /** TENCENT_VMS_ENDPOINT: a host (https) or an http URL of a compatible server; null for Tencent's own. */
  endpoint: string | null;
  /** How many times the message is played (Tencent allows 1–3). */
  playTimes?: number;
  timeoutSeconds?: number;
}

/**
 * An http URL keeps the request exactly as the SDK makes it for Tencent (Host `vms.tencentcloudapi.com`, signed for the
 * `vms` service); only the TCP connection goes to that address. A bare host replaces Tencent's host outright.
 */
function connection(endpoint: string | null): { endpoint: string; protocol: string; agent?: Agent } {
  if (!endpoint) return { endpoint: TENCENT_VMS_HOST, protocol: 'https://' };
  if (!/^https?:\/\//.test(endpoint)) return { endpoint, protocol: 'https://' };
  const url = new URL(endpoint);
  if (url.protocol === 'https:') return { endpoint: url.host, protocol: 'https://' };
  return { endpoint: TENCENT_VMS_HOST, protocol: 'http://', agent: new PinnedAgent(url.hostname, Number(url.port || 80)) };
}

/** Sends every request of the agent to one address, whatever host the URL names. */
class PinnedAgent extends Agent {
  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    super({ keepAlive: true });
  }

  override createConnection(): Socket {
    return connect({ host: this.host, port: this.port });
  }
}

export class TencentVmsProvider implements VoiceProvider {
  readonly name = 'tencent' as const;
  private readonly client: CommonClient;

  constructor(private readonly deps: TencentVmsDeps) {
    const c = connection(deps.endpoint);
    this.client = new CommonClient(c.endpoint, VMS_VERSION, {
      credential: { secretId: deps.secretId, secretKey: deps.secretKey },
      region: deps.region,
      profile: {
        httpProfile: {
          endpoint: c.endpoint,
          protocol: c.protocol,
          reqTimeout: deps.timeoutSeconds ?? 10,
          ...(c.agent ? { agent: c.agent } : {}),
        },
      },
    });
  }

  async place(call: OutgoingCall): Promise<PlacedCall> {
    let answer: unknown;
    try {
      answer = await this.client.request('SendTtsVoice', {
        TemplateId: this.deps.templateId,
        CalledNumber: call.to,
        VoiceSdkAppid: this.deps.sdkAppId,
        TemplateParamSet: call.params,
        PlayTimes: this.deps.playTimes ?? 2,
        SessionContext: call.id,
      });
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : null;
      throw new VoiceCallError(`Tencent VMS did not place the call${code ? ` (${code})` : ''}: ${errorMessage(err)}`, code, err);
    }
    const callId = callIdOf(answer);
    if (!callId) throw new VoiceCallError('Tencent VMS answered without a CallId', null);
    return { providerCallId: callId };
  }
}

/** `{ SendStatus: { CallId } }`, the part of SendTtsVoice's answer the gateway keeps. */
function callIdOf(answer: unknown): string | null {
  if (typeof answer !== 'object' || answer === null || !('SendStatus' in answer)) return null;
  const status: unknown = answer.SendStatus;
  if (typeof status !== 'object' || status === null || !('CallId' in status)) return null;
  return typeof status.CallId === 'string' && status.CallId !== '' ? status.CallId : null;
}
