/**
 * zod types the configuration's variables share: addresses, ports, log levels, PostgreSQL URLs.
 *
 * @module
 */
import { z } from 'zod';

/** `host:port`, an IPv6 host in brackets. */
export const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

/** A TCP port; 0 where a setting says it turns something off. */
export const port = z.coerce.number().int().min(0).max(65535);

/** The levels a process logs at. */
export const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error']);

/** Why `url` is not a PostgreSQL URL we take, never quoting it (it may hold a password). */
export function postgresUrlIssue(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) return 'not postgres://';
  if (!parsed.hostname || !parsed.username || parsed.pathname.length < 2) return 'needs user, host and database';
  return undefined;
}

/** The PostgreSQL store's settings from its URL (validated above); the password stays out of every message. */
export function postgresStoreOf(url: string, passwordFile: string | undefined, maxConnections: number) {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 5432,
    database: decodeURIComponent(parsed.pathname.slice(1)),
    user: decodeURIComponent(parsed.username),
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    passwordFile,
    ssl: sslmode !== null && sslmode !== 'disable',
    maxConnections,
  };
}
