// Builds the gateway's configuration from the environment and an optional .env file; a bad value stops start-up with one line.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { configSchema, type GatewayConfig, type HttpTlsConfig, type MqttsConfig, type RawConfig, type VoiceConfig } from './schema.js';
import { loadCaBundle, loadTlsIdentity } from './tls.js';
import { GatewayError } from '../core/errors.js';

const MB = 1024 * 1024;

export type Env = Record<string, string | undefined>;

/** Reads `.env` from `dir` (if any); real environment variables win over the file. */
export function readEnv(env: Env = process.env, dir: string = process.cwd()): Env {
  const file = resolve(dir, '.env');
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  return { ...fromFile, ...env };
}

export function loadConfig(env: Env): GatewayConfig {
  // Blank variables count as unset, as they do in most deployment tools.
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') cleaned[k] = v.trim();
  // TZ is the conventional variable; GATEWAY_TZ wins when both are set (TZ also changes the process's own clock).
  if (!cleaned.GATEWAY_TZ && cleaned.TZ) cleaned.GATEWAY_TZ = cleaned.TZ;

  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = issue?.path.join('.') || 'configuration';
    const shown = name === 'GATEWAY_TZ' && !env.GATEWAY_TZ ? 'TZ' : name;
    const value = cleaned[name];
    const got = value === undefined ? '' : ` (got ${JSON.stringify(redactValue(name, value))})`;
    throw new GatewayError('GW_ERR_CONFIG', `${shown}: ${issue?.message ?? 'invalid'}${got}`);
  }
  const c = parsed.data;
  const httpTls = httpTlsConfig(c);
  return {
    mqtt: {
      port: c.MQTT_PORT,
      host: c.MQTT_HOST,
      maxConnections: c.MQTT_MAX_CONNECTIONS ?? null,
      redeliveryWindowMs: c.MQTT_REDELIVERY_WINDOW_SECONDS * 1000,
      proxyFrom: c.MQTT_PROXY_PROTOCOL === 'on' ? (c.MQTT_PROXY_FROM ?? []) : null,
    },
    http: {
      port: c.HTTP_PORT,
      host: c.HTTP_HOST,
      maxConnections: c.HTTP_MAX_CONNECTIONS ?? null,
      requestTimeoutMs: c.HTTP_REQUEST_TIMEOUT_SECONDS * 1000,
    },
    shutdownGraceMs: c.SHUTDOWN_GRACE_SECONDS * 1000,
    mqtts: mqttsConfig(c),
    httpTls,
    trustProxy: c.TRUST_PROXY ?? [],
    dataDir: resolve(c.DATA_DIR),
    linkSecretFile: c.LINK_SECRET_FILE ? resolve(c.LINK_SECRET_FILE) : null,
    databaseUrl: c.DATABASE_URL ?? null,
    nodeId: c.GATEWAY_NODE_ID ?? nodeIdFromHost(),
    cluster: c.REDIS_URL
      ? { redisUrl: c.REDIS_URL, nodeId: c.GATEWAY_NODE_ID ?? nodeIdFromHost(), heartbeatMs: c.CLUSTER_HEARTBEAT_MS }
      : null,
    registryFile: c.REGISTRY_FILE ? resolve(c.REGISTRY_FILE) : null,
    publicUrl: c.PUBLIC_URL ?? `${httpTls ? 'https' : 'http'}://localhost:${c.HTTP_PORT}`,
    timeZone: c.GATEWAY_TZ,
    twilio:
      c.TWILIO_ACCOUNT_SID && c.TWILIO_AUTH_TOKEN && c.TWILIO_FROM
        ? { accountSid: c.TWILIO_ACCOUNT_SID, authToken: c.TWILIO_AUTH_TOKEN, from: c.TWILIO_FROM, apiUrl: c.TWILIO_API_URL ?? null }
        : null,
    sms: {
      provider: c.SMS_PROVIDER ?? (c.TWILIO_ACCOUNT_SID && c.TWILIO_AUTH_TOKEN && c.TWILIO_FROM ? 'twilio' : 'outbox'),
      fallback: c.SMS_FALLBACK_PROVIDER ?? null,
      caps: {
        tencentSameContentSeconds: c.TENCENT_SMS_SAME_CONTENT_SECONDS,
        tencentDailyPerNumber: c.TENCENT_SMS_DAILY_PER_NUMBER,
        aliyunDailyPerTemplate: c.ALIYUN_SMS_DAILY_PER_TEMPLATE,
      },
      tencentMaxParam: c.TENCENT_SMS_MAX_PARAM === 0 ? null : c.TENCENT_SMS_MAX_PARAM,
    },
    apiToken: c.API_TOKEN ?? null,
    influx: c.INFLUX_URL
      ? {
          url: c.INFLUX_URL,
          database: c.INFLUX_DATABASE,
          token: c.INFLUX_TOKEN ?? null,
          org: c.INFLUX_ORG ?? null,
          bucket: c.INFLUX_BUCKET ?? null,
        }
      : null,
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT,
    admin: c.ADMIN_USERNAME && c.ADMIN_PASSWORD ? { username: c.ADMIN_USERNAME, password: c.ADMIN_PASSWORD } : null,
    mapTileUrl: c.MAP_TILE_URL ?? null,
    deviceDrop: { share: c.DEVICE_DROP_PERCENT / 100, minDevices: c.DEVICE_DROP_MIN },
    smsReplyWindowMs: c.SMS_REPLY_WINDOW_MINUTES * 60_000,
    alarmSlowLogMs: c.ALARM_SLOW_LOG_MS,
    voice: voiceConfig(c),
    aliyunSms:
      c.ALIYUN_ACCESS_KEY_ID && c.ALIYUN_ACCESS_KEY_SECRET && c.ALIYUN_SMS_SIGN_NAME
        ? {
            accessKeyId: c.ALIYUN_ACCESS_KEY_ID,
            accessKeySecret: c.ALIYUN_ACCESS_KEY_SECRET,
            signName: c.ALIYUN_SMS_SIGN_NAME,
            endpoint: c.ALIYUN_SMS_ENDPOINT ?? null,
          }
        : null,
    tencentSms:
      c.TENCENT_SECRET_ID && c.TENCENT_SECRET_KEY && c.TENCENT_SMS_SDK_APP_ID && c.TENCENT_SMS_SIGN_NAME
        ? {
            secretId: c.TENCENT_SECRET_ID,
            secretKey: c.TENCENT_SECRET_KEY,
            sdkAppId: c.TENCENT_SMS_SDK_APP_ID,
            signName: c.TENCENT_SMS_SIGN_NAME,
            region: c.TENCENT_REGION,
            endpoint: c.TENCENT_SMS_ENDPOINT ?? null,
          }
        : null,
    webhookKey: c.WEBHOOK_KEY ?? null,
    smsReceipts: c.SMS_RECEIPTS,
    storage: {
      reserveBytes: c.DISK_RESERVE_MB * MB,
      deviceLimits: {
        ratePerMinute: c.DEVICE_RATE_PER_MINUTE,
        burst: c.DEVICE_BURST,
        dailyMessages: c.DEVICE_DAILY_MESSAGES,
        dailyBytes: c.DEVICE_DAILY_MB * MB,
        disconnectAfter: c.DEVICE_FLOOD_DISCONNECT,
      },
      retentionDays: c.EVENT_RETENTION_DAYS,
    },
  };
}

function voiceConfig(c: RawConfig): VoiceConfig | null {
  const base = { afterSeconds: c.VOICE_AFTER_SECONDS, webhookKey: c.WEBHOOK_KEY ?? null };
  if (c.VOICE_PROVIDER === 'twilio') return { ...base, provider: 'twilio' };
  if (
    c.VOICE_PROVIDER === 'tencent' &&
    c.TENCENT_SECRET_ID &&
    c.TENCENT_SECRET_KEY &&
    c.TENCENT_VMS_SDK_APP_ID &&
    c.TENCENT_VMS_TEMPLATE_ID
  ) {
    const tencent = {
      secretId: c.TENCENT_SECRET_ID,
      secretKey: c.TENCENT_SECRET_KEY,
      region: c.TENCENT_REGION,
      sdkAppId: c.TENCENT_VMS_SDK_APP_ID,
      templateId: c.TENCENT_VMS_TEMPLATE_ID,
      endpoint: c.TENCENT_VMS_ENDPOINT ?? null,
    };
    return { ...base, provider: 'tencent', tencent };
  }
  return null;
}

function mqttsConfig(c: RawConfig): MqttsConfig | null {
  if (!c.MQTT_TLS_CERT_FILE || !c.MQTT_TLS_KEY_FILE) return null;
  const { cert, key } = loadTlsIdentity(
    { name: 'MQTT_TLS_CERT_FILE', path: c.MQTT_TLS_CERT_FILE },
    { name: 'MQTT_TLS_KEY_FILE', path: c.MQTT_TLS_KEY_FILE },
  );
  const ca = c.MQTT_TLS_CA_FILE ? loadCaBundle({ name: 'MQTT_TLS_CA_FILE', path: c.MQTT_TLS_CA_FILE }) : null;
  return { port: c.MQTTS_PORT, cert, key, ca };
}

function httpTlsConfig(c: RawConfig): HttpTlsConfig | null {
  if (!c.HTTP_TLS_CERT_FILE || !c.HTTP_TLS_KEY_FILE) return null;
  const { cert, key } = loadTlsIdentity(
    { name: 'HTTP_TLS_CERT_FILE', path: c.HTTP_TLS_CERT_FILE },
    { name: 'HTTP_TLS_KEY_FILE', path: c.HTTP_TLS_KEY_FILE },
  );
  return { cert, key };
}

/** The host name as a node id: what GATEWAY_NODE_ID allows, other characters turned into dashes. */
function nodeIdFromHost(): string {
  const id = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  if (id === '') throw new GatewayError('GW_ERR_CONFIG', 'GATEWAY_NODE_ID: required, as the host name cannot serve as a node id');
  return id;
}

function redactValue(name: string, value: string): string {
  if (/TOKEN|SECRET|PASSWORD|WEBHOOK_KEY/.test(name)) return '[redacted]';
  // A connection string (DATABASE_URL, REDIS_URL) may carry a password: never echo it.
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:)[^/\s]*@/i, '$1***@');
}
