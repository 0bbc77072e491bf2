/**
 * The reconciliation with D1: walks the task queue's open card orders page by page, has each page checked against
 * D1's status of its cards (orders D1 is ahead of get D1's status as a `d1StatusReport` signal), reports each order
 * whose D1 state disagrees as an issuer event, and shows its counts and the disagreeing orders in Web UI (current
 * details). Its Schedule (`reconcile-orders:{taskQueue}`, RECONCILE_SCHEDULE) or `reconcileNow` starts it; the
 * activities do all I/O.
 *
 * @module
 */
import {
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import type { CardOrderActivities } from '../activities/index.js';
import type { ReconcileOrdersInput, ReconcileSummary } from '../rules/contracts/reconcile.js';
import {
  addPage,
  detailsMarkdown,
  emptyCounts,
  newProgress,
  PAGES_PER_RUN,
} from '../rules/reconcile/reconcile-progress.js';

// A nightly job: patient with Temporal's visibility store and the worker, and failing the run (the next one starts
// over) rather than waiting on a fault for hours.
const { listOpenOrders } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 10 },
});
// Per-order failures never fail a page; a page fails when the worker or Temporal does, and is then done again
// whole (reads, and signals the orders deduplicate). Heartbeats between orders and every few seconds.
const { reconcileOrderPage } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '30s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 5 },
});
// The issuer's endpoint gets an hour to take a page's events; then they are counted as undelivered.
const { publishReconcileEvents } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '1m',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '10m' },
});

export async function reconcileOrders(input: ReconcileOrdersInput = {}): Promise<ReconcileSummary> {
  const progress = input.carried ?? newProgress(new Date().toISOString());
  // The run's id, the same across continue-as-new: with the order's, the id of each disagreement's event.
  const runId = workflowInfo().workflowId;
  setCurrentDetails(detailsMarkdown(progress, 'running'));

  for (let pagesThisRun = 1; ; pagesThisRun++) {
    const page = await listOpenOrders({ pageToken: progress.pageToken });
    const found =
      page.orders.length > 0
        ? await reconcileOrderPage({ orders: page.orders })
        : { counts: emptyCounts(), disagreements: [] };
    if (found.disagreements.length > 0) {
      try {
        await publishReconcileEvents({ runId, disagreements: found.disagreements });
      } catch (err) {
        if (isCancellation(err)) throw err;
        progress.undeliveredEvents += found.disagreements.length;
        log.warn('reconciliation: disagreement events not delivered', { events: found.disagreements.length });
      }
    }
    addPage(progress, found, page.nextPageToken);
    setCurrentDetails(detailsMarkdown(progress, 'running'));
    if (progress.pageToken === undefined) break;
    if (pagesThisRun >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof reconcileOrders>({ carried: progress });
    }
  }

  setCurrentDetails(detailsMarkdown(progress, 'done'));
  const { pageToken: _done, ...summary } = progress;
  return { ...summary, finishedAt: new Date().toISOString() };
}
