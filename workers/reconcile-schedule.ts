/**
 * The reconciliation's Temporal Schedule, kept to the configuration by every worker at start: RECONCILE_SCHEDULE
 * set, the Schedule `reconcile-orders:{taskQueue}` exists with that cron (UTC) and starts `reconcileOrders` on the
 * task queue, skipping a run while the previous one is still going; unset (the default), it does not exist.
 *
 * @module
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { Config } from '../config/config.js';
import {
  RECONCILE_ORDERS_WORKFLOW,
  reconcileScheduleId,
  type ReconcileOrdersInput,
  type ReconcileSummary,
} from '../rules/contracts/reconcile.js';

/** What syncing did: made the Schedule, brought it to the configuration, deleted it, or found nothing to delete. */
export type ReconcileScheduleSync = 'created' | 'updated' | 'deleted' | 'off';

type ReconcileWorkflow = (input: ReconcileOrdersInput) => Promise<ReconcileSummary>;

/** A run that has not ended by then is ended by Temporal, so a stuck run cannot skip every later one. */
const RUN_TIMEOUT = '23h';
/** A run missed by more than this (Temporal was down at the time) is skipped; the next one comes as planned. */
const CATCHUP_WINDOW = '6h';

/**
 * Creates, updates or deletes the task queue's reconciliation Schedule to match `config.reconcile.schedule`.
 * Idempotent, and safe when several workers start at once: a create that finds the Schedule updates it, a delete
 * that finds none is done. An update keeps the Schedule's paused state and note (an operator's pause in Web UI
 * outlives worker restarts).
 */
export async function syncReconcileSchedule(
  temporal: Client,
  config: Pick<Config, 'temporal' | 'reconcile'>,
): Promise<ReconcileScheduleSync> {
  const { taskQueue } = config.temporal;
  const scheduleId = reconcileScheduleId(taskQueue);
  const handle = temporal.schedule.getHandle(scheduleId);
  const cron = config.reconcile.schedule;
  if (cron === undefined) {
    try {
      await handle.delete();
      return 'deleted';
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return 'off';
      throw err;
    }
  }

  // Temporal stores the cron as calendar specs; the time zone is explicit so no server default can shift it.
  const spec: ScheduleSpec = { cronExpressions: [cron], timezone: 'UTC' };
  const action: ScheduleOptionsStartWorkflowAction<ReconcileWorkflow> = {
    type: 'startWorkflow',
    workflowType: RECONCILE_ORDERS_WORKFLOW,
    taskQueue,
    // Temporal appends each run's scheduled time: reconcile-orders:{taskQueue}-2026-11-27T02:00:00Z.
    workflowId: scheduleId,
    args: [{}],
    workflowExecutionTimeout: RUN_TIMEOUT,
    staticSummary: `Reconciliation of the open card orders of task queue ${taskQueue} with D1 (RECONCILE_SCHEDULE)`,
  };
  const policies = { overlap: 'SKIP', catchupWindow: CATCHUP_WINDOW } as const;
  // No cron in memo or note: an update cannot change the memo, and keeps the note (an operator's, say).
  const description =
    `Reconciles the open card orders of task queue ${taskQueue} with D1 when RECONCILE_SCHEDULE says (UTC); ` +
    'the card-order worker keeps it to that setting at start, and deletes it when the setting is unset.';
  try {
    await temporal.schedule.create({
      scheduleId,
      spec,
      action,
      policies,
      memo: { description },
      state: { note: description },
    });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await handle.update((previous) => ({
    spec,
    action,
    policies,
    state: { paused: previous.state.paused, note: previous.state.note ?? description },
  }));
  return 'updated';
}
