import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle, type WorkflowBundlePath } from '@temporalio/worker';
import { cardOrderStatusKey } from '../rules/contracts/search-attributes.js';
import { harnessWorkflow, releaseSignal, type HarnessActivities } from './fixtures/workflows/harness.js';
import { eventually, testEnvironment, testWorkflowBundle, uniqueName } from './helpers/temporal.js';

const activities: HarnessActivities = { echo: (message) => Promise.resolve(message) };

describe('test harness on a real Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  let workflowBundle: WorkflowBundlePath | WorkflowBundle;

  before(async () => {
    env = await testEnvironment();
    workflowBundle = await testWorkflowBundle();
  });
  after(async () => {
    await env?.teardown();
  });

  async function withWorker<T>(taskQueue: string, body: () => Promise<T>): Promise<T> {
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
    return worker.runUntil(body);
  }

  it('runs a workflow started through a client to completion on a worker, activity included', async () => {
    const taskQueue = uniqueName('harness');
    const result = await withWorker(taskQueue, () =>
      env.client.workflow.execute(harnessWorkflow, {
        taskQueue,
        workflowId: uniqueName('harness-complete'),
        args: [{ status: 'COMPLETING', waitForRelease: false }],
      }),
    );
    assert.equal(result, 'done:COMPLETING');
  });

  it('reads back a custom search attribute the workflow set, through describe and a visibility query', async () => {
    const taskQueue = uniqueName('harness');
    const status = uniqueName('STATUS');
    const workflowId = uniqueName('harness-search');
    await withWorker(taskQueue, async () => {
      const handle = await env.client.workflow.start(harnessWorkflow, {
        taskQueue,
        workflowId,
        args: [{ status, waitForRelease: true }],
      });
      const described = await eventually(
        async () => {
          const { typedSearchAttributes } = await handle.describe();
          return typedSearchAttributes.get(cardOrderStatusKey) === status ? true : undefined;
        },
        { what: 'the upserted search attribute' },
      );
      assert.equal(described, true);

      const found = await eventually(
        async () => {
          const ids: string[] = [];
          for await (const execution of env.client.workflow.list({ query: `CardOrderStatus = '${status}'` })) {
            ids.push(execution.workflowId);
          }
          return ids.length > 0 ? ids : undefined;
        },
        { what: 'the workflow in a visibility query' },
      );
      assert.deepEqual(found, [workflowId]);
      await handle.signal(releaseSignal);
      await handle.result();
    });
  });

  it('yields one execution when the same workflow id is started twice', async () => {
    const taskQueue = uniqueName('harness');
    const workflowId = uniqueName('harness-once');
    const options = {
      taskQueue,
      workflowId,
      args: [{ status: 'ONCE', waitForRelease: true }] as Parameters<typeof harnessWorkflow>,
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    } as const;
    await withWorker(taskQueue, async () => {
      const first = await env.client.workflow.start(harnessWorkflow, options);
      const second = await env.client.workflow.start(harnessWorkflow, options);
      assert.equal(second.firstExecutionRunId, first.firstExecutionRunId);

      await first.signal(releaseSignal);
      await first.result();
      await assert.rejects(env.client.workflow.start(harnessWorkflow, options), WorkflowExecutionAlreadyStartedError);

      const runs = await eventually(
        async () => {
          const { count } = await env.client.workflow.count(`WorkflowId = '${workflowId}'`);
          return count === 1 ? count : undefined;
        },
        { what: 'exactly one execution in visibility' },
      );
      assert.equal(runs, 1);
    });
  });
});
