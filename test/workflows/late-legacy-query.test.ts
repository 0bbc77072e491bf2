import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundle, type WorkflowBundlePath } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { queryWithin } from '../../temporal/query-through-failover.js';
import {
  describeEvents,
  sendUpdateAdmitted,
  spawnWorkflowWorker,
  waitForHistoryEvent,
  workflowBundleFile,
} from '../helpers/stale-workflow-task.js';
import { testEnvironment, testWorkflowBundle, uniqueName } from '../helpers/temporal.js';

const { EventType } = proto.temporal.api.enums.v1;

/**
 * `npm run chaos`, seed 11: two redirected orders wedged with TMPRL1100. The client read the order by a query just
 * before it sent the change; the order's worker had just died. The query waited for a worker while D1's
 * notifications came and a timer fired; the worker that took it ran the order's code for those events to answer
 * (sdk-core 1.24), then took the order's task carrying the change, and sent the commands of the first run ahead of
 * the change's acceptance. Replay accepts first: nondeterminism, for good. These tests build that sequence with a
 * small workflow of the card order's shape (handlers set `wake`, a loop reacts with a timer).
 */
describe('a query that waits for a worker while events come, then an update', () => {
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

  /**
   * The workflow runs until quiet; its worker dies; `read` is sent (the workflow is quiet: the server sends the query
   * to the dead worker's sticky queue, where it waits out the sticky timeout); its first timer fires, two signals and
   * an update come (their task waits on the same sticky queue, a few seconds behind the query); a fresh worker starts
   * polling. Once the query's sticky wait is over, the server gives it to the fresh worker if its caller still waits,
   * before the task. Returns the replay's error, if any.
   */
  async function lateQuery(read: (handle: WorkflowHandle) => Promise<unknown>): Promise<unknown> {
    const taskQueue = uniqueName('late-query');
    const workflowId = uniqueName('staleTaskTimerLoop');
    const handle = await env.client.workflow.start('staleTaskTimerLoop', { taskQueue, workflowId });
    const worker = () =>
      spawnWorkflowWorker({
        address: env.address,
        taskQueue,
        bundlePath: bundleFile.bundlePath,
        // Long enough for the fresh worker to be polling when the query leaves the dead worker's queue.
        stickyQueueScheduleToStartTimeoutMs: 15_000,
      });
    const seen =
      (type: proto.temporal.api.enums.v1.EventType) => (event: proto.temporal.api.history.v1.IHistoryEvent) =>
        event.eventType === type;
    try {
      const first = await worker();
      await waitForHistoryEvent(env.client, workflowId, seen(EventType.EVENT_TYPE_TIMER_STARTED));
      await first.kill();
      const reading = read(handle);
      // The timer fires 3 s after the start: the query was dispatched while the workflow was quiet.
      await waitForHistoryEvent(env.client, workflowId, seen(EventType.EVENT_TYPE_TIMER_FIRED));
      await handle.signal('staleTaskNote', 'n1');
      await handle.signal('staleTaskNote', 'n2');
      await sendUpdateAdmitted(env.client, { workflowId, name: 'staleTaskCancel', args: ['late'] });
      const fresh = await worker();
      try {
        await reading;
        await waitForHistoryEvent(
          env.client,
          workflowId,
          seen(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
          {
            timeoutMs: 60_000,
            what: 'the update to be accepted',
          },
        );
      } finally {
        await fresh.stop();
      }
      const history = await handle.fetchHistory();
      try {
        await Worker.runReplayHistory({ workflowBundle: bundle, replayName: workflowId }, history);
        return undefined;
      } catch (err) {
        return new Error(`${String(err)}\n${describeEvents(history.events ?? []).join('\n')}`, { cause: err });
      }
    } finally {
      await handle.terminate().catch(() => undefined);
    }
  }

  it('wedges the workflow when the query waits until a worker takes it (the sdk-core fault itself)', async () => {
    const replayError = await lateQuery((handle) => handle.query('staleTaskNotes').catch((err: unknown) => err));
    assert.ok(
      replayError instanceof Error && replayError.cause instanceof DeterminismViolationError,
      String(replayError),
    );
    assert.match(replayError.message, /TMPRL1100.*Update machine does not handle this event/);
  });

  it('replays when the query gives up at its deadline (queryWithin, as getOrder reads a running order)', async () => {
    let answered: unknown = 'not yet';
    const replayError = await lateQuery(async (handle) => {
      answered = await queryWithin(env.client, 1_000, () => handle.query('staleTaskNotes'));
    });
    assert.equal(answered, undefined, 'no worker was there to answer within the deadline');
    assert.equal(replayError, undefined, String(replayError));
  });
});
