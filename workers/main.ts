/**
 * `npm run worker`: runs the card-order worker until SIGINT or SIGTERM, then drains in-flight work.
 *
 * @module
 */
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../common/config.js';
import { createLogger, toTemporalLogger } from '../common/logger.js';
import { createCardOrderWorker } from './card-order-worker.js';
import { temporalConnectionOptions } from '../common/temporal.js';

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
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => (stopRequested = true));

const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
try {
  const cardOrderWorker = await createCardOrderWorker(config, connection, logger);
  if (!stopRequested) {
    logger.info(
      { address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue },
      'worker polling',
    );
    await cardOrderWorker.worker.run();
  }
  await cardOrderWorker.close();
  logger.info('worker stopped');
} finally {
  await connection.close();
}
