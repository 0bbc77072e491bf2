import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CompleteAsyncError, activityInfo } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { WorkflowBundle, WorkflowBundlePath } from '@temporalio/worker';
import {
  describeEvents,
  runStaleWorkflowTask,
  sendUpdateAdmitted,
  spawnWorkflowWorker,
  workflowBundleFile,
  type StaleWorkflowTaskResult,
} from '../helpers/stale-workflow-task.js';
import { testEnvironment, testWorkflowBundle, uniqueName } from '../helpers/temporal.js';
import type { StaleTaskInput } from '../fixtures/workflows/stale-task.js';

describe('a workflow task that carries an activity result, a signal and an update after its worker died', () => {
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

  async function staleTask(workflowType: string): Promise<StaleWorkflowTaskResult> {
    const taskQueue = uniqueName('stale-task');
    const activityTaskQueue = uniqueName('stale-task-activities');
    const workflowId = uniqueName(workflowType);
    let gateStarted!: (taskToken: Uint8Array) => void;
    const gateToken = new Promise<Uint8Array>((resolve) => (gateStarted = resolve));
    let update: { accepted: Promise<unknown> } | undefined;
    const activityWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: activityTaskQueue,
      activities: {
        staleTaskGate: () => {
          gateStarted(activityInfo().taskToken);
          throw new CompleteAsyncError();
        },
      },
    });
    return activityWorker.runUntil(async () => {
      const input: StaleTaskInput = { activityTaskQueue };
      const handle = await env.client.workflow.start(workflowType, {
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
          settled: async () => void (await gateToken),
          whileNoWorker: {
            completeActivity: async () => env.client.activity.complete(await gateToken, 'gate-open'),
            sendSignal: () => handle.signal('staleTaskNote', 'note-1'),
            sendUpdate: async () => {
              update = await sendUpdateAdmitted(env.client, { workflowId, name: 'staleTaskCancel', args: ['by-test'] });
            },
          },
        });
      } finally {
        await handle.terminate().catch(() => undefined);
        await update?.accepted;
      }
    });
  }

  it('puts the update in the same activation as the activity result and the signal, first, live and on replay', async () => {
    const result = await staleTask('staleTaskNaive');
    const all = describeEvents(result.history.events ?? []);
    assert.equal(result.freshTaskOutcome, 'completed', all.join('\n'));
    // The dead worker's sticky task timed out unstarted, as event 24 of the evidence did.
    assert.equal(
      result.timedOut.workflowTaskTimedOutEventAttributes?.timeoutType,
      proto.temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START,
    );
    // Live, the fresh worker accepts before the main loop's reaction to the activity: accept, main-loop timer,
    // handler timer. The evidence has the main loop's commands first, which this path does not produce.
    const fresh = describeEvents(result.freshTaskEvents).map((line) => line.replace(/^\d+ /, ''));
    assert.deepEqual(fresh, ['WORKFLOW_EXECUTION_UPDATE_ACCEPTED', 'TIMER_STARTED', 'TIMER_STARTED'], all.join('\n'));
    assert.equal(result.replayError, undefined, String(result.replayError));

    // The evidence's order (main-loop command before the accept) fails replay the same way the stuck order did.
    const [accepted, mainLoopTimer] = result.freshTaskEvents;
    assert.ok(accepted && mainLoopTimer);
    const swapped = proto.temporal.api.history.v1.History.create({
      events: (result.history.events ?? []).map((event) =>
        event === accepted
          ? { ...mainLoopTimer, eventId: accepted.eventId }
          : event === mainLoopTimer
            ? { ...accepted, eventId: mainLoopTimer.eventId }
            : event,
      ),
    });
    await assert.rejects(
      Worker.runReplayHistory({ workflowBundle: bundle, replayName: 'evidence-order' }, swapped),
      (err: Error) => {
        assert.ok(err instanceof DeterminismViolationError, String(err));
        assert.match(err.message, /Update machine does not handle this event: HistoryEvent\(id: \d+, TimerStarted\)/);
        return true;
      },
    );
  });
});
