// pino logger factory; personal data (names, phones, addresses, secrets) is redacted wherever it appears in a log object.
import { pino, type Logger as PinoLogger, type LoggerOptions, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

const PERSONAL_KEYS = ['name', 'phone', 'to', 'from', 'From', 'To', 'Body', 'body', 'address', 'secret', 'password', 'family', 'token', 'authToken', 'notes'];

export const redactPaths = [
  ...PERSONAL_KEYS,
  ...PERSONAL_KEYS.map((k) => `*.${k}`),
  ...PERSONAL_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { svc: 'care-gateway' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything, for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
