/**
 * Readiness of workers, as Temporal sees it: "ready" means a worker polls the task queue.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Config } from '../../config/config.js';
import { temporalConnectionOptions } from '../../temporal/connection.js';

/** Resolves once a worker polls the configured task queue for workflow tasks; rejects after `timeoutMs`. */
export async function waitForPoller(config: Config, timeoutMs: number): Promise<void> {
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { pollers } = await connection.workflowService.describeTaskQueue({
        namespace: config.temporal.namespace,
        taskQueue: { name: config.temporal.taskQueue },
        taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      });
      if (pollers.length > 0) return;
      await delay(250);
    }
    throw new Error(`no worker polled task queue ${config.temporal.taskQueue} within ${timeoutMs} ms`);
  } finally {
    await connection.close();
  }
}
