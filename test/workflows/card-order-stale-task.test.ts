import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CompleteAsyncError, activityInfo } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle, type WorkflowBundlePath } from '@temporalio/worker';
import type { Operation } from '../../d1/report-schemas.js';
import { loadConfig } from '../../config/config.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { CARD_ORDER_WORKFLOW, type CardOrderInput } from '../../rules/contracts/card-order.js';
import {
  describeEvents,
  runStaleWorkflowTask,
  sendUpdateAdmitted,
  spawnWorkflowWorker,
  workflowBundleFile,
} from '../helpers/stale-workflow-task.js';
import { sampleOrder } from '../helpers/fixtures.js';
import { testEnvironment, testWorkflowBundle, uniqueName } from '../helpers/temporal.js';

/**
 * Issue 10, point 13: a cancelled order stuck for good after a workflow task carried an activity completion, a
 * signal and the cancel update together (after its worker was killed). This builds that task on purpose for the
 * card-order workflow and replays what it wrote.
 */
describe('card order: a task with the submit result, a D1 notification and a cancel, after its worker died', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundle | WorkflowBundlePath;
  let bundleFile: Awaited<ReturnType<typeof workflowBundleFile>>;

  before(async () => {
    env = await testEnvironment();
    bundle = await testWorkflowBundle();
    bundleFile = await workflowBundleFile(bundle);
  });
  after(async () => {
    await bundleFile?.cleanup();
    await env?.teardown();
  });

  it('accepts the cancel, issues every command from its main loop, and replays', async () => {
    const taskQueue = uniqueName('stale-card-order');
    const issuerRequestId = uniqueName('stale');
    const workflowId = cardOrderWorkflowId('ISSUER0001', issuerRequestId);
    let submitStarted!: (taskToken: Uint8Array) => void;
    const submitToken = new Promise<Uint8Array>((resolve) => (submitStarted = resolve));
    // Activities in the test process: the submit completes when the test says; the cancel request never returns.
    const activityWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      activities: {
        submitOrder: () => {
          submitStarted(activityInfo().taskToken);
          throw new CompleteAsyncError();
        },
        requestOrderCancel: () => {
          throw new CompleteAsyncError();
        },
      },
    });
    const { encryptedData: _, sensitiveData: __, timings: ___, ...fields } = sampleOrder(issuerRequestId);
    const input: CardOrderInput = {
      order: { ...fields, encryptedData: 'header..iv.ciphertext.tag' },
      timings: { ...loadConfig({}).orderDefaults },
      publishEvents: false,
    };
    const requested: Operation = {
      operationId: 'op-1',
      operation: 'PRODUCE',
      status: 'PENDING',
      startTime: new Date().toISOString(),
      cardId: fields.cardId,
      issuerRequestId,
      details: { status: 'CARD_PROD_REQUESTED' },
    };

    const result = await activityWorker.runUntil(async () => {
      const handle = await env.client.workflow.start(CARD_ORDER_WORKFLOW, {
        taskQueue,
        workflowId,
        args: [input],
        workflowTaskTimeout: '2s',
      });
      try {
        return await runStaleWorkflowTask({
          client: env.client,
          taskQueue,
          workflowId,
          workflowBundle: bundle,
          startWorker: () =>
            spawnWorkflowWorker({ address: env.address, taskQueue, bundlePath: bundleFile.bundlePath }),
          settled: async () => void (await submitToken),
          whileNoWorker: {
            completeActivity: async () => env.client.activity.complete(await submitToken, { operationId: 'op-1' }),
            sendSignal: () => handle.signal('d1Notification', { operations: [requested] }),
            sendUpdate: async () =>
              void (await sendUpdateAdmitted(env.client, { workflowId, name: 'cancelOrder', args: [] })),
          },
        });
      } finally {
        await handle.terminate().catch(() => undefined);
      }
    });

    const all = describeEvents(result.history.events ?? []).join('\n');
    assert.equal(result.freshTaskOutcome, 'completed', all);
    assert.equal(result.replayError, undefined, `${String(result.replayError)}\n${all}`);
    // The task carried all three; the order acted on all three in one go: D1 is asked to cancel the order the
    // submit created, and the order says so.
    const fresh = describeEvents(result.freshTaskEvents).map((line) => line.replace(/^\d+ /, ''));
    assert.deepEqual(
      [...fresh].sort(),
      ['ACTIVITY_TASK_SCHEDULED', 'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES', 'WORKFLOW_EXECUTION_UPDATE_ACCEPTED'].sort(),
      all,
    );
    const scheduled = result.freshTaskEvents.find((e) => e.activityTaskScheduledEventAttributes);
    assert.equal(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name, 'requestOrderCancel');
  });
});
