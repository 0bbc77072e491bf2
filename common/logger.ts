/**
 * Structured JSON logs for every process, with card data and secrets redacted by key wherever they appear.
 *
 * @module
 */
import type { Logger as TemporalLogger, LogLevel as TemporalLogLevel, LogMetadata } from '@temporalio/common';
import { pino, type Logger } from 'pino';

/**
 * Keys whose values never reach a log line: card data (PAN, expiry, CSC, track data, names inside the encrypted
 * block), the JWE itself, and credentials.
 */
export const REDACTED_KEYS = [
  'pan',
  'exp',
  'expiry',
  'cvv',
  'cvv1',
  'cvv2',
  'csc',
  'pvv',
  'track1',
  'track2',
  'track3',
  'trackData',
  'encryptedData',
  'sensitiveData',
  'name',
  'secondName',
  'encodedName',
  'authorization',
  'access_token',
  'assertion',
  'client_secret',
  'password',
  'privateKey',
] as const;

const redactPaths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

export type { Logger } from 'pino';

/** The levels a process may log at (the `LOG_LEVEL` setting). */
export type LogLevelName = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** A JSON logger for one component of the service, writing to stderr. */
export function createLogger(config: { logLevel: LogLevelName }, component: string): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { component },
      redact: { paths: redactPaths, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

/** Adapts a pino logger to the Temporal SDK's `Logger` interface, for `Runtime.install`. */
export function toTemporalLogger(logger: Logger): TemporalLogger {
  const levels: Record<TemporalLogLevel, LogLevelName> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  const log = (level: TemporalLogLevel, message: string, meta?: LogMetadata) =>
    logger[levels[level]](meta ?? {}, message);
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
