/**
 * Connecting to Temporal: one place that turns the configuration into connection options, and waits for the
 * frontend to answer.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { TemporalUnavailableError } from './errors.js';

/** Splits `host:port` (or `[v6]:port`) into its parts. */
export function parseHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

/**
 * Connects to the Temporal frontend at `address`, retrying until it answers a health check or `timeoutMs`
 * passes. Used where Temporal may still be starting (the dev server, `npm start`).
 *
 * @throws {TemporalUnavailableError} when the frontend did not answer in time.
 */
export async function waitForTemporal(address: string, timeoutMs: number): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch (err) {
      lastError = err;
      await delay(250);
    }
  }
  throw new TemporalUnavailableError(address, { cause: lastError });
}
