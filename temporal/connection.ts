/**
 * Connecting to Temporal: one place that turns the configuration into connection options, and waits for the
 * frontend to answer.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { Connection, type Client, type ConnectionOptions, type TLSConfig } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Config } from '../config/config.js';
import { KeyMaterialError, TemporalUnavailableError } from '../common/errors.js';

/**
 * Connection options for the configured Temporal: address, and TLS and an API key when set (Temporal Cloud, a
 * cluster with mTLS). Shared by the client library, the worker, the webhook and the scripts.
 */
export function temporalConnectionOptions(temporal: Config['temporal']): {
  address: string;
  apiKey?: string;
  tls?: TLSConfig;
} {
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new KeyMaterialError(`Cannot read the Temporal ${what} at ${file}: ${(err as Error).message}`);
    }
  };
  const { tls } = temporal;
  const cert = read(tls?.certFile, 'client certificate');
  const key = read(tls?.keyFile, 'client key');
  const ca = read(tls?.caFile, 'CA certificate');
  return {
    address: temporal.address,
    ...(temporal.apiKey && { apiKey: temporal.apiKey }),
    ...(tls && {
      tls: {
        ...(cert && key && { clientCertPair: { crt: cert, key } }),
        ...(ca && { serverRootCACertificate: ca }),
      },
    }),
  };
}

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
export async function waitForTemporal(
  address: string,
  timeoutMs: number,
  options: ConnectionOptions = {},
): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ ...options, address, connectTimeout: 2_000 });
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

/**
 * Workflow tasks waiting for a worker on `taskQueue`, as the server counts them (`DescribeTaskQueue` statistics: an
 * approximate count, cached by the server for a few seconds, sticky tasks left out); undefined when the server
 * reports none (before 1.27).
 */
export async function workflowTaskBacklog(
  client: Pick<Client, 'workflowService'>,
  namespace: string,
  taskQueue: string,
): Promise<number | undefined> {
  const { stats } = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: proto.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    reportStats: true,
  });
  return stats ? Number(stats.approximateBacklogCount ?? 0) : undefined;
}
