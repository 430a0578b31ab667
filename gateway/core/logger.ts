// pino logger factory; personal data (names, phones, addresses, secrets) is redacted wherever it appears in a log object.
import { pino, type Logger as PinoLogger, type LoggerOptions, type DestinationStream } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type Logger = PinoLogger;

const PERSONAL_KEYS = [
  'name',
  'phone',
  'to',
  'from',
  'From',
  'To',
  'Body',
  'body',
  'address',
  'secret',
  'password',
  'family',
  'token',
  'authToken',
  'notes',
];

export const redactPaths = [
  ...PERSONAL_KEYS,
  ...PERSONAL_KEYS.map((k) => `*.${k}`),
  ...PERSONAL_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
];

export interface LoggerOptionsIn {
  level?: string;
  destination?: DestinationStream;
  /** One readable line per entry (for a person at a terminal) instead of JSON (for log collectors). */
  pretty?: boolean;
}

export function createLogger(opts: LoggerOptionsIn = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { svc: 'care-gateway' },
  };
  if (opts.pretty) return pino(options, prettyStream(opts.destination));
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/**
 * Synchronous, so lines keep their order with what the process writes to stdout itself (the start banner).
 * Redaction still applies: pino redacts before the line reaches the prettifier.
 */
function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  return PinoPretty({
    sync: true,
    colorize: destination === undefined,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,svc,part',
    messageFormat: '{if part}{part}: {end}{msg}',
    singleLine: true,
    ...(destination ? { destination } : {}),
  });
}

/** A logger that drops everything, for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
