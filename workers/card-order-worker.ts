/**
 * The card-order worker: workflows and activities on one task queue, in one process.
 *
 * @module
 */
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { Config } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import { loadWorkflowBundle } from './workflow-bundle.js';

/** Creates (but does not run) the worker for `config`, on an open connection. */
export async function createCardOrderWorker(
  config: Config,
  connection: NativeConnection,
  logger: Logger,
): Promise<Worker> {
  const workflowBundle = await loadWorkflowBundle(config.worker.workflowBundlePath, (reason) => logger.warn(reason));
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle,
    activities: createActivities({ config, logger }),
    // The SDK default is 0: in-flight activities would be cancelled at once on shutdown.
    shutdownGraceTime: config.worker.shutdownGraceMs,
  });
}
