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

const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
try {
  const cardOrderWorker = await createCardOrderWorker(config, connection, logger);
  const { worker } = cardOrderWorker;
  logger.info(
    { address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue },
    'worker polling',
  );
  await worker.run();
  await cardOrderWorker.close();
  logger.info('worker stopped');
} finally {
  await connection.close();
}
