/**
 * `npm run worker`: runs the card-order worker until SIGINT or SIGTERM, then drains in-flight work. Started while
 * Temporal is down (or unreachable), it waits: it retries the connection with capped exponential back-off, logging
 * each failed attempt and the next delay, until Temporal answers or a signal stops it.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../config/config.js';
import { createLogger, toTemporalLogger } from '../common/logger.js';
import { createCardOrderWorker } from './card-order-worker.js';
import { temporalConnectionOptions } from '../temporal/connection.js';

const config = loadConfig();
const logger = createLogger(config, 'worker');
Runtime.install({
  logger: toTemporalLogger(logger),
  ...(config.worker.metricsAddress && {
    telemetryOptions: { metrics: { prometheus: { bindAddress: config.worker.metricsAddress } } },
  }),
});

// The SDK stops running workers on a signal; one that arrives while the worker is still being built (bundling
// takes seconds) must stop it too, rather than be ignored.
let stopRequested = false;
const stopped = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopRequested = true;
    stopped.abort();
  });
}

/** The first wait after a failed connection attempt; it doubles after each failure, up to the cap. */
const connectRetryInitialMs = 1_000;
const connectRetryMaxMs = 30_000;

/** Connects to Temporal, retrying for as long as it takes; `undefined` when a signal stopped the wait. */
async function connectWithRetry(): Promise<NativeConnection | undefined> {
  const options = temporalConnectionOptions(config.temporal);
  let nextDelayMs = connectRetryInitialMs;
  for (let attempt = 1; !stopRequested; attempt += 1) {
    try {
      const connection = await NativeConnection.connect(options);
      if (attempt > 1) logger.info({ address: config.temporal.address, attempt }, 'connected to Temporal');
      return connection;
    } catch (err) {
      if (stopRequested) break;
      logger.warn(
        { address: config.temporal.address, attempt, retryInMs: nextDelayMs, err: { message: (err as Error).message } },
        'Temporal is not reachable; retrying',
      );
      try {
        await delay(nextDelayMs, undefined, { signal: stopped.signal });
      } catch {
        break; // a signal: stop waiting
      }
      nextDelayMs = Math.min(nextDelayMs * 2, connectRetryMaxMs);
    }
  }
  return undefined;
}

const connection = await connectWithRetry();
if (connection) {
  try {
    const cardOrderWorker = await createCardOrderWorker(config, connection, logger);
    if (!stopRequested) {
      logger.info(
        {
          address: config.temporal.address,
          namespace: config.temporal.namespace,
          taskQueue: config.temporal.taskQueue,
          campaignTaskQueue: config.temporal.campaignTaskQueue,
        },
        'worker polling',
      );
      await cardOrderWorker.run();
    }
    await cardOrderWorker.close();
    logger.info('worker stopped');
  } finally {
    await connection.close();
  }
} else {
  logger.info('worker stopped before Temporal was reachable');
}
