// The configuration schema: every environment variable the deployment relies on, with its default, validated before anything starts.
import { isIP } from 'node:net';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const host = z.string().min(1);
const url = z
  .string()
  .url()
  .transform((u) => u.replace(/\/+$/, ''));
const optional = z.string().min(1).optional();
/** A provider endpoint: a host name (HTTPS, as the SDKs default) or an http(s) base URL, e.g. a local compatible server. */
const providerEndpoint = z
  .string()
  .regex(
    /^(https?:\/\/)?[A-Za-z0-9.-]+(:\d{1,5})?\/?$/,
    'expected a host name such as sms.tencentcloudapi.com or a base URL such as http://127.0.0.1:8091',
  );
const smsProvider = z.enum(['twilio', 'aliyun', 'tencent', 'outbox'], { message: 'expected twilio, aliyun, tencent or outbox' });
/** Addresses or CIDRs of reverse proxies / load balancers, comma-separated. */
const proxyList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== ''),
  )
  .refine(
    (list) => list.length > 0 && list.every(isProxyAddress),
    'expected proxy addresses or CIDRs, comma-separated (e.g. 127.0.0.1 or 10.0.0.0/8), or loopback',
  );
const count = z.coerce.number({ message: 'expected a whole number' }).int('expected a whole number').min(0, 'expected 0 or more');

export const configSchema = z
  .object({
    MQTT_PORT: port.default(1883),
    MQTT_HOST: host.default('0.0.0.0'),
    MQTTS_PORT: port.default(8883),
    // PEM files; MQTTS is on when the certificate and key are set, HTTPS when the HTTP pair is.
    MQTT_TLS_CERT_FILE: optional,
    MQTT_TLS_KEY_FILE: optional,
    MQTT_TLS_CA_FILE: optional,
    HTTP_PORT: port.default(8080),
    HTTP_HOST: host.default('0.0.0.0'),
    HTTP_TLS_CERT_FILE: optional,
    HTTP_TLS_KEY_FILE: optional,
    TRUST_PROXY: proxyList.optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    // The secret that signs SMS links and sign-in codes, when not DATA_DIR/link-secret: a file every node of a cluster shares.
    LINK_SECRET_FILE: z.string().min(1).optional(),
    // PostgreSQL instead of the embedded SQLite store; Redis for several nodes (only beside PostgreSQL, see clusterIssues).
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'expected a postgres:// connection string')
      .optional(),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'expected a redis:// connection string')
      .optional(),
    // This node's stable id in a cluster: the aedes id (its wills and device sessions in Redis are keyed by it), and the
    // name on its claims, leases and notices; unset, the host name (see load.ts).
    GATEWAY_NODE_ID: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected 1-63 letters, digits, dots, dashes or underscores (no colon or slash)')
      .optional(),
    // How often nodes announce themselves; a node silent for three of these is taken for dead (its wills replayed).
    CLUSTER_HEARTBEAT_MS: count.min(100, 'expected 100 or more').max(600_000, 'expected 600000 or less').default(10_000),
    REGISTRY_FILE: optional,
    // Unset: http://localhost:<HTTP_PORT>, so printed links and signature checks follow the port (see load.ts).
    PUBLIC_URL: url.optional(),
    GATEWAY_TZ: z.string().refine(isTimeZone, 'expected an IANA time zone such as Asia/Shanghai').default('Asia/Shanghai'),
    TWILIO_ACCOUNT_SID: z
      .string()
      .regex(/^AC[0-9a-fA-F]{32}$/, 'expected AC followed by 32 hex digits')
      .optional(),
    TWILIO_AUTH_TOKEN: optional,
    TWILIO_FROM: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$|^MG[0-9a-fA-F]{32}$/, 'expected an E.164 number or a Messaging Service SID')
      .optional(),
    TWILIO_API_URL: url.optional(),
    // SMS providers: the first one a page goes to, and the one that takes it at once when the first fails or is capped.
    SMS_PROVIDER: smsProvider.optional(),
    SMS_FALLBACK_PROVIDER: smsProvider.optional(),
    // Per-recipient caps of the domestic providers (0 turns one off), and Tencent's longest template parameter
    // (12 for individually certified accounts; 0 for enterprise accounts, which have no limit).
    TENCENT_SMS_SAME_CONTENT_SECONDS: count.default(30),
    TENCENT_SMS_DAILY_PER_NUMBER: count.default(10),
    ALIYUN_SMS_DAILY_PER_TEMPLATE: count.default(50),
    TENCENT_SMS_MAX_PARAM: count.default(12),
    API_TOKEN: z.string().min(16, 'expected at least 16 characters').optional(),
    INFLUX_URL: url.optional(),
    INFLUX_DATABASE: z.string().min(1).default('eldercare'),
    INFLUX_TOKEN: optional,
    INFLUX_ORG: optional,
    INFLUX_BUCKET: optional,
    // The first dashboard admin, created only while no admin exists; never a default password.
    ADMIN_USERNAME: z
      .string()
      .regex(/^[A-Za-z0-9._@-]{3,64}$/, 'expected 3-64 letters, digits or . _ @ -')
      .optional(),
    ADMIN_PASSWORD: z.string().min(10, 'expected at least 10 characters').max(200, 'expected at most 200 characters').optional(),
    MAP_TILE_URL: z
      .string()
      .regex(/^https?:\/\/[^\s]+$/, 'expected an http(s) tile URL template')
      .refine((u) => ['{z}', '{x}', '{y}'].every((p) => u.includes(p)), 'expected a tile URL template with {z}, {x} and {y}')
      .optional(),
    // A fall of this share (percent) of the connected devices, and at least this many, within 2 minutes degrades /healthz.
    DEVICE_DROP_PERCENT: z.coerce
      .number()
      .int()
      .min(1, 'expected a percentage from 1 to 100')
      .max(100, 'expected a percentage from 1 to 100')
      .default(30),
    DEVICE_DROP_MIN: z.coerce.number().int().min(1, 'expected a whole number of devices, at least 1').default(5),
    // How long after its page an SMS "1"/"2" still answers it; later, the reply is refused with a clear answer.
    SMS_REPLY_WINDOW_MINUTES: z.coerce.number().int().min(1).max(1440).default(30),
    // Disk and per-device limits: room kept for alarms, and what one device may write (0 turns a device limit off).
    DISK_RESERVE_MB: count.default(256),
    DEVICE_RATE_PER_MINUTE: count.default(60),
    DEVICE_BURST: count.min(1, 'expected 1 or more').default(120),
    DEVICE_DAILY_MESSAGES: count.default(20_000),
    DEVICE_DAILY_MB: count.default(16),
    DEVICE_FLOOD_DISCONNECT: count.min(1, 'expected 1 or more').default(120),
    EVENT_RETENTION_DAYS: count.min(1, 'expected 1 or more').default(90),
    // An alarm slower than this from its arrival to its first SMS send is logged with where its time went (0: never).
    ALARM_SLOW_LOG_MS: count.max(600_000, 'expected 600000 or less').default(250),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    // auto: readable lines when stdout is a terminal, JSON lines otherwise (files, pipes, journald, log shippers).
    LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
    // Connection caps and timeouts at the edges; unset caps are sized from the process's open-file limit (connection-budget.ts).
    HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).optional(),
    MQTT_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).optional(),
    HTTP_REQUEST_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
    SHUTDOWN_GRACE_SECONDS: z.coerce.number().int().min(0).max(120).default(3),
    MQTT_REDELIVERY_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
    // Voice calls with keypress acknowledgement (docs/providers.md "Voice calls").
    VOICE_PROVIDER: z.enum(['twilio', 'aliyun', 'tencent'], { message: 'expected twilio, aliyun or tencent' }).optional(),
    VOICE_AFTER_SECONDS: z.coerce
      .number()
      .int()
      .min(10, 'expected 10 to 3600 seconds')
      .max(3600, 'expected 10 to 3600 seconds')
      .default(60),
    TENCENT_VMS_ENDPOINT: z
      .string()
      .regex(/^(https?:\/\/[^\s/]+\/?|[A-Za-z0-9.-]+(:\d+)?)$/, 'expected a host or an http(s) URL')
      .optional(),
    TENCENT_VMS_SDK_APP_ID: z
      .string()
      .regex(/^\d{6,12}$/, 'expected the numeric voice SdkAppid')
      .optional(),
    TENCENT_VMS_TEMPLATE_ID: z
      .string()
      .regex(/^\d{1,12}$/, 'expected the numeric id of the approved voice template')
      .optional(),
    // ---- Domestic SMS providers (Aliyun, Tencent Cloud) and their unsigned callbacks ----
    ALIYUN_ACCESS_KEY_ID: z
      .string()
      .regex(/^[A-Za-z0-9]{8,64}$/, 'expected an AccessKey ID (letters and digits)')
      .optional(),
    ALIYUN_ACCESS_KEY_SECRET: optional,
    ALIYUN_SMS_SIGN_NAME: z
      .string()
      .min(2, 'expected the approved signature, 2-12 characters')
      .max(12, 'expected the approved signature, 2-12 characters')
      .optional(),
    ALIYUN_SMS_ENDPOINT: providerEndpoint.optional(),
    TENCENT_SECRET_ID: z
      .string()
      .regex(/^[A-Za-z0-9]{8,64}$/, 'expected a SecretId (letters and digits)')
      .optional(),
    TENCENT_SECRET_KEY: optional,
    TENCENT_SMS_SDK_APP_ID: z
      .string()
      .regex(/^\d{6,12}$/, 'expected the SMS SdkAppId, digits such as 1400006666')
      .optional(),
    TENCENT_SMS_SIGN_NAME: z
      .string()
      .min(2, 'expected the approved signature, 2-12 characters')
      .max(12, 'expected the approved signature, 2-12 characters')
      .optional(),
    TENCENT_REGION: z
      .string()
      .regex(/^[a-z]+-[a-z]+(-\d+)?$/, 'expected a region such as ap-guangzhou')
      .default('ap-guangzhou'),
    TENCENT_SMS_ENDPOINT: providerEndpoint.optional(),
    // Aliyun and Tencent do not sign their pushes: every callback URL carries this as ?key=.
    WEBHOOK_KEY: z
      .string()
      .min(16, 'expected at least 16 characters')
      .max(200, 'expected at most 200 characters')
      .regex(/^[A-Za-z0-9._~-]+$/, 'expected letters, digits or . _ ~ - (it goes into callback URLs as is)')
      .optional(),
    // How delivery receipts of Aliyun/Tencent reach the gateway: auto pulls when callbacks cannot arrive (no WEBHOOK_KEY, or a PUBLIC_URL on a private address).
    SMS_RECEIPTS: z.enum(['auto', 'push', 'pull']).default('auto'),
    // ---- Behind a TCP load balancer: PROXY protocol on the MQTT listener (docs/cluster.md) ----
    MQTT_PROXY_PROTOCOL: z.enum(['off', 'on'], { message: 'expected on or off' }).default('off'),
    MQTT_PROXY_FROM: proxyList.optional(),
  })
  .superRefine((c, ctx) => {
    const twilio = [c.TWILIO_ACCOUNT_SID, c.TWILIO_AUTH_TOKEN, c.TWILIO_FROM];
    if (twilio.some(Boolean) && !twilio.every(Boolean)) {
      for (const key of ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM'] as const) {
        if (!c[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'required when any TWILIO_* credential is set' });
      }
    }
    const hasTwilio = twilio.every(Boolean);
    for (const key of ['SMS_PROVIDER', 'SMS_FALLBACK_PROVIDER'] as const) {
      if (c[key] === 'twilio' && !hasTwilio)
        ctx.addIssue({ code: 'custom', path: [key], message: 'twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM' });
    }
    if (c.SMS_FALLBACK_PROVIDER && c.SMS_FALLBACK_PROVIDER === (c.SMS_PROVIDER ?? (hasTwilio ? 'twilio' : 'outbox'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['SMS_FALLBACK_PROVIDER'],
        message: 'must differ from SMS_PROVIDER (the provider it stands in for)',
      });
    }
    if (c.INFLUX_TOKEN && (!c.INFLUX_ORG || !c.INFLUX_BUCKET)) {
      for (const key of ['INFLUX_ORG', 'INFLUX_BUCKET'] as const) {
        if (!c[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'required when INFLUX_TOKEN is set' });
      }
    }
    if (Boolean(c.ADMIN_USERNAME) !== Boolean(c.ADMIN_PASSWORD)) {
      const missing = c.ADMIN_USERNAME ? 'ADMIN_PASSWORD' : 'ADMIN_USERNAME';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'ADMIN_USERNAME and ADMIN_PASSWORD go together' });
    }
    for (const [cert, key] of [
      ['MQTT_TLS_CERT_FILE', 'MQTT_TLS_KEY_FILE'],
      ['HTTP_TLS_CERT_FILE', 'HTTP_TLS_KEY_FILE'],
    ] as const) {
      if (Boolean(c[cert]) !== Boolean(c[key])) {
        const missing = c[cert] ? key : cert;
        ctx.addIssue({ code: 'custom', path: [missing], message: `${cert} and ${key} go together` });
      }
    }
    if (c.MQTT_TLS_CA_FILE && !c.MQTT_TLS_CERT_FILE) {
      ctx.addIssue({
        code: 'custom',
        path: ['MQTT_TLS_CERT_FILE'],
        message: 'required when MQTT_TLS_CA_FILE is set (client certificates need MQTTS)',
      });
    }
    if (c.MQTT_TLS_CERT_FILE && c.MQTTS_PORT !== 0 && c.MQTTS_PORT === c.MQTT_PORT) {
      ctx.addIssue({ code: 'custom', path: ['MQTTS_PORT'], message: 'must differ from MQTT_PORT' });
    }
    if (c.INFLUX_TOKEN && !c.INFLUX_URL) {
      ctx.addIssue({ code: 'custom', path: ['INFLUX_URL'], message: 'required when INFLUX_TOKEN is set' });
    }
    voiceIssues(c, ctx);
    clusterIssues(c, ctx);
    // Half a proxy setup would either refuse every balanced device or believe anyone's PROXY header: both are refused.
    if (c.MQTT_PROXY_PROTOCOL === 'on' && !c.MQTT_PROXY_FROM)
      ctx.addIssue({
        code: 'custom',
        path: ['MQTT_PROXY_FROM'],
        message: 'required when MQTT_PROXY_PROTOCOL is on (the load balancers that may send a PROXY header)',
      });
    if (c.MQTT_PROXY_PROTOCOL === 'off' && c.MQTT_PROXY_FROM)
      ctx.addIssue({ code: 'custom', path: ['MQTT_PROXY_PROTOCOL'], message: 'must be on when MQTT_PROXY_FROM is set' });
    // ---- Domestic SMS providers: each set of credentials is complete or absent ----
    for (const [group, keys] of [
      ['ALIYUN_*', ['ALIYUN_ACCESS_KEY_ID', 'ALIYUN_ACCESS_KEY_SECRET', 'ALIYUN_SMS_SIGN_NAME']],
      ['TENCENT_*', ['TENCENT_SECRET_ID', 'TENCENT_SECRET_KEY', 'TENCENT_SMS_SDK_APP_ID', 'TENCENT_SMS_SIGN_NAME']],
    ] as const) {
      // Tencent's key pair serves voice (VMS) too: only the SMS application or signature says SMS is meant.
      const meant = group === 'TENCENT_*' ? Boolean(c.TENCENT_SMS_SDK_APP_ID || c.TENCENT_SMS_SIGN_NAME) : keys.some((k) => c[k]);
      if (meant && !keys.every((k) => c[k])) {
        for (const k of keys)
          if (!c[k]) ctx.addIssue({ code: 'custom', path: [k], message: `required when any ${group} SMS credential is set` });
      }
    }
  });

type VoiceIssueContext = Parameters<Parameters<z.ZodType['superRefine']>[0]>[1];

/** Each voice provider's credentials, named one at a time when missing. */
function voiceIssues(
  c: { [K in string]?: unknown } & { VOICE_PROVIDER?: 'twilio' | 'aliyun' | 'tencent'; TWILIO_FROM?: string },
  ctx: VoiceIssueContext,
): void {
  const need = (keys: string[], why: string): void => {
    for (const key of keys) if (!c[key]) ctx.addIssue({ code: 'custom', path: [key], message: why });
  };
  switch (c.VOICE_PROVIDER) {
    case 'twilio':
      need(['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_FROM'], 'required when VOICE_PROVIDER is twilio');
      if (c.TWILIO_FROM?.startsWith('MG'))
        ctx.addIssue({
          code: 'custom',
          path: ['TWILIO_FROM'],
          message: 'VOICE_PROVIDER twilio needs a phone number to call from, not a Messaging Service',
        });
      return;
    case 'tencent':
      need(
        ['TENCENT_SECRET_ID', 'TENCENT_SECRET_KEY', 'TENCENT_VMS_SDK_APP_ID', 'TENCENT_VMS_TEMPLATE_ID', 'WEBHOOK_KEY'],
        'required when VOICE_PROVIDER is tencent',
      );
      return;
    case 'aliyun':
      ctx.addIssue({
        code: 'custom',
        path: ['VOICE_PROVIDER'],
        message: 'Aliyun voice calls are not available yet; use twilio or tencent',
      });
      return;
    case undefined:
      return;
  }
}

export type RawConfig = z.infer<typeof configSchema>;

/** SMS_PROVIDER, SMS_FALLBACK_PROVIDER and the domestic providers' limits. */
export interface SmsConfig {
  provider: 'twilio' | 'aliyun' | 'tencent' | 'outbox';
  fallback: 'twilio' | 'aliyun' | 'tencent' | 'outbox' | null;
  caps: { tencentSameContentSeconds: number; tencentDailyPerNumber: number; aliyunDailyPerTemplate: number };
  /** Tencent's longest template parameter; null: no limit (enterprise account). */
  tencentMaxParam: number | null;
}

export interface TwilioConfig {
  accountSid: string;
  authToken: string;
  from: string;
  apiUrl: string | null;
}

/** Aliyun SMS (dysmsapi): credentials, the approved signature, and where its API is reached. */
export interface AliyunSmsConfig {
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  /** ALIYUN_SMS_ENDPOINT: a host (HTTPS) or an http(s) base URL; null for Aliyun's own. */
  endpoint: string | null;
}

/** Tencent Cloud SMS (sms.v20210111): credentials, the application, the approved signature and region, and where its API is reached. */
export interface TencentSmsConfig {
  secretId: string;
  secretKey: string;
  sdkAppId: string;
  signName: string;
  region: string;
  /** TENCENT_SMS_ENDPOINT: a host (HTTPS) or an http(s) base URL; null for Tencent's own. */
  endpoint: string | null;
}

/** MQTT over TLS: its port (bound to MQTT_HOST), the server identity, and the CA that client certificates chain to. */
export interface MqttsConfig {
  port: number;
  cert: Buffer;
  key: Buffer;
  /** When set, devices are asked for a client certificate, verified against it (see the registry's certificate fields). */
  ca: Buffer | null;
}

/** HTTPS on HTTP_PORT instead of plain HTTP. */
export interface HttpTlsConfig {
  cert: Buffer;
  key: Buffer;
}

export interface InfluxConfig {
  url: string;
  database: string;
  token: string | null;
  org: string | null;
  bucket: string | null;
}

export interface StorageConfig {
  /** Below this much free space in DATA_DIR, heartbeats and the rejection log are shed so alarms still fit. */
  reserveBytes: number;
  /** Non-alarm messages per device: a token bucket (rate per minute, burst; rate 0 = no limit) and a daily quota (0 = none). */
  deviceLimits: { ratePerMinute: number; burst: number; dailyMessages: number; dailyBytes: number; disconnectAfter: number };
  /** Heartbeat, motion and low-battery events and the rejection log older than this are pruned. */
  retentionDays: number;
}

/** The validated configuration the gateway runs with. */
export interface GatewayConfig {
  mqtt: {
    port: number;
    host: string;
    /** Concurrent MQTT sockets; null: sized from the open-file limit. */
    maxConnections: number | null;
    /** How long an event can come back as a redelivery (same connection or DUP). */
    redeliveryWindowMs: number;
    /** MQTT_PROXY_PROTOCOL on: the load balancers (MQTT_PROXY_FROM) whose PROXY header names the device's address; null: off. */
    proxyFrom?: string[] | null;
  };
  http: {
    port: number;
    host: string;
    /** Concurrent HTTP sockets; null: sized from the open-file limit. */
    maxConnections: number | null;
    /** A request's headers and body must have arrived within this. */
    requestTimeoutMs: number;
  };
  /** On stop, in-flight HTTP requests get this long before their sockets are closed. */
  shutdownGraceMs: number;
  /** MQTT over TLS on MQTTS_PORT, on when MQTT_TLS_CERT_FILE and MQTT_TLS_KEY_FILE are set. */
  mqtts?: MqttsConfig | null;
  /** HTTPS on HTTP_PORT, when HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE are set. */
  httpTls?: HttpTlsConfig | null;
  /** TRUST_PROXY: reverse proxies whose X-Forwarded-For/-Proto headers are believed. */
  trustProxy?: string[];
  dataDir: string;
  /** LINK_SECRET_FILE: the link secret shared by several nodes; absent or null, DATA_DIR/link-secret. */
  linkSecretFile?: string | null;
  /** DATABASE_URL: PostgreSQL is the store; absent or null, the embedded SQLite database in dataDir. */
  databaseUrl?: string | null;
  /** GATEWAY_NODE_ID (default the host name): this node's stable id in a cluster, naming its claims, leases and notices. */
  nodeId?: string;
  /** REDIS_URL and this node's id: the broker's sessions, wills and device presence shared by several nodes; null: one node. */
  cluster?: ClusterConfig | null;
  registryFile: string | null;
  publicUrl: string;
  timeZone: string;
  twilio: TwilioConfig | null;
  /** Absent (tests that build a config by hand): Twilio when configured, else the outbox, with default caps. */
  sms?: SmsConfig;
  apiToken: string | null;
  influx: InfluxConfig | null;
  logLevel: RawConfig['LOG_LEVEL'];
  logFormat: RawConfig['LOG_FORMAT'];
  /** ADMIN_USERNAME + ADMIN_PASSWORD: the first dashboard admin, created while none exists. */
  admin?: { username: string; password: string } | null;
  /** Free space kept for alarms, per-device limits on everything but alarms, and how long raw events are kept. */
  storage: StorageConfig;
  /** Optional base-map tiles for the dashboard map (e.g. Tianditu); without it the map draws outlines only, offline. */
  mapTileUrl: string | null;
  /** DEVICE_DROP_PERCENT (as a share) and DEVICE_DROP_MIN: when a fall in connected devices is reported. */
  deviceDrop?: { share: number; minDevices: number };
  /** SMS_REPLY_WINDOW_MINUTES in ms: how long after its page a "1"/"2" still answers it (default 30 minutes). */
  smsReplyWindowMs?: number;
  /** ALARM_SLOW_LOG_MS: an alarm slower than this to its first SMS send is logged with its stages; 0 never (default 250). */
  alarmSlowLogMs?: number;
  /** VOICE_PROVIDER and its settings: calls to workers whose SMS page is unanswered; null or absent: no calls. */
  voice?: VoiceConfig | null;
  /** ALIYUN_*: Aliyun SMS, when its credentials are set. */
  aliyunSms?: AliyunSmsConfig | null;
  /** TENCENT_*: Tencent Cloud SMS, when its credentials are set. */
  tencentSms?: TencentSmsConfig | null;
  /** WEBHOOK_KEY: the ?key= every unsigned provider callback must carry; without it those callbacks are refused. */
  webhookKey?: string | null;
  /** SMS_RECEIPTS: how Aliyun/Tencent receipts arrive (see notifiers/receipt-mode.ts). */
  smsReceipts?: 'auto' | 'push' | 'pull';
}

export interface ClusterConfig {
  redisUrl: string;
  /** GATEWAY_NODE_ID (default: the host name): the aedes broker id, stable across restarts of this node. */
  nodeId: string;
  /** CLUSTER_HEARTBEAT_MS: a node silent for three of these is taken for dead. */
  heartbeatMs: number;
}

export type VoiceConfig = {
  /** VOICE_AFTER_SECONDS: how long an SMS page may go unanswered before the worker is called (the registry may override). */
  afterSeconds: number;
  /** WEBHOOK_KEY: the `?key=` every unsigned provider callback must carry. */
  webhookKey: string | null;
} & (
  | { provider: 'twilio' }
  | {
      provider: 'tencent';
      tencent: { secretId: string; secretKey: string; region: string; sdkAppId: string; templateId: string; endpoint: string | null };
    }
);

/** An address or CIDR as proxy-addr (fastify's trustProxy) takes it, or one of its named ranges. */
function isProxyAddress(a: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(a)) return true;
  const [ip, bits, ...rest] = a.split('/');
  if (rest.length > 0 || !ip || isIP(ip) === 0) return false;
  if (bits === undefined) return true;
  const max = isIP(ip) === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Several nodes share their broker state through Redis, and only PostgreSQL can be shared by them. */
function clusterIssues(c: { REDIS_URL?: string | undefined; DATABASE_URL?: string | undefined }, ctx: z.RefinementCtx): void {
  if (c.REDIS_URL && !c.DATABASE_URL) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_URL'],
      message: 'cluster mode needs DATABASE_URL (nodes cannot share an embedded SQLite store); set it or unset REDIS_URL',
    });
  }
}
