import { setTimeout as delay } from 'node:timers/promises';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { forEachBounded } from '../common/bounded-concurrency.js';
import { isCardOrderError } from '../common/errors.js';
import type { D1Client } from '../d1/client.js';
import type { Operation } from '../d1/report-schemas.js';
import { d1ReportFor, isD1Ahead } from '../rules/reconcile/reconcile-compare.js';
import { reorderRequestId } from '../orders/reorder-id.js';
import { d1StatusReportSignal, orderStateQuery, type OrderState } from '../rules/contracts/card-order.js';
import type { ReconcileCounts, ReconcileDisagreement } from '../rules/contracts/reconcile.js';
import { emptyCounts } from '../rules/reconcile/reconcile-progress.js';
import { queryAnswer } from '../temporal/query-through-failover.js';
import { withHeartbeat } from './heartbeat.js';
import { RECONCILE_UNAVAILABLE, type OpenOrder } from './list-open-orders.js';

/** The orders' side of the reconciliation: the worker's Temporal client, and D1 calls at once per page. */
export interface ReconcileTargets {
  temporal: Client;
  concurrency: number;
}

export interface ReconcilePageResult {
  counts: ReconcileCounts;
  /** This page's disagreements, in the order they were found. */
  disagreements: ReconcileDisagreement[];
}

/** Tries of one status call that D1 fails transiently (5xx, 429, timeouts), before the order counts as failed. */
const D1_ATTEMPTS = 3;
const D1_RETRY_DELAY_MS = 1_000;
const D1_MAX_RETRY_DELAY_MS = 30_000;

/** What happened to one order; each order lands in exactly one of checked, failed and skipped. */
type Outcome = { kind: 'checked'; disagreement?: ReconcileDisagreement } | { kind: 'failed' } | { kind: 'skipped' };

/** D1's status of the card, tried again after a transient failure; refused credentials are not retried here. */
async function productionStatus(
  d1: D1Client,
  card: { issuerId: string; cardId: string },
  signal: AbortSignal,
): Promise<Operation[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await d1.getProductionStatus(card.issuerId, card.cardId, { signal })).operations;
    } catch (err) {
      const again = isCardOrderError(err) && err.retryable && !err.needsOperator && attempt < D1_ATTEMPTS;
      if (!again || signal.aborted) throw err;
      const retryAfterMs = (err as { retryAfterMs?: number }).retryAfterMs;
      const wait = Math.min(retryAfterMs ?? D1_RETRY_DELAY_MS * 2 ** (attempt - 1), D1_MAX_RETRY_DELAY_MS);
      await delay(wait, undefined, { signal });
    }
  }
}

/** Why a per-order step failed, for the log: our code, or the error's name; never a message (it may echo data). */
function reasonOf(err: unknown): string {
  return isCardOrderError(err) ? err.code : err instanceof Error ? err.name : 'unknown';
}

/** The D1 request id of the order's current submission: its own, or its latest re-order's. */
function sentRequestId(state: OrderState): string {
  const { reorders } = state.attempts;
  return reorders === 0 ? state.issuerRequestId : reorderRequestId(state.issuerRequestId, reorders);
}

/** D1's order taken under `issuerRequestId`, if D1 has one. */
function takenUnder(operations: readonly Operation[] | undefined, issuerRequestId: string): Operation | undefined {
  return operations?.find((op) => op.operation === 'PRODUCE' && op.issuerRequestId === issuerRequestId);
}

async function reconcileOne(temporal: Client, d1: D1Client, order: OpenOrder, signal: AbortSignal): Promise<Outcome> {
  const handle = temporal.workflow.getHandle(order.workflowId);
  let state: OrderState;
  try {
    // Bounded as the client's reads are: a query left to wait for a later worker could wedge the order.
    state = await queryAnswer(handle, (h) => h.query(orderStateQuery));
  } catch (err) {
    log.warn('reconciliation: the order did not answer its state query', {
      workflowId: order.workflowId,
      reason: reasonOf(err),
    });
    return { kind: 'failed' };
  }
  // An order whose submit D1 never answered is at D1 or not: only D1's status of the card can tell.
  const unanswered = state.operationId === undefined && state.status === 'D1_UNREACHABLE';
  if (state.operationId === undefined && !unanswered) return { kind: 'skipped' };

  let operations: Operation[] | undefined;
  try {
    operations = await productionStatus(d1, state, signal);
  } catch (err) {
    if (isCardOrderError(err) && err.code === 'ERR_D1_NOT_FOUND') {
      operations = undefined;
    } else {
      const fields = { workflowId: order.workflowId, reason: reasonOf(err) };
      if (isCardOrderError(err) && err.needsOperator) {
        log.error('reconciliation: D1 refused our credentials or permission; an operator must act', fields);
      } else {
        log.warn('reconciliation: D1 did not give the card status', fields);
      }
      return { kind: 'failed' };
    }
  }
  const operationId = state.operationId ?? takenUnder(operations, sentRequestId(state))?.operationId;
  if (operationId === undefined) return { kind: 'checked' };
  const found = {
    workflowId: order.workflowId,
    issuerRequestId: state.issuerRequestId,
    cardId: state.cardId,
    operationId,
    orderStatus: state.status,
    orderStage: state.stage,
    detectedAt: new Date().toISOString(),
  };
  const report = operations && d1ReportFor(operations, operationId);
  if (!report?.produce) {
    return {
      kind: 'checked',
      disagreement: { ...found, d1Stage: 'UNKNOWN_AT_D1', d1Status: undefined, updated: false },
    };
  }
  const atD1 = { stage: report.produce.details.status, status: report.produce.status };
  if (!isD1Ahead({ status: state.status, stage: state.stage }, atD1)) return { kind: 'checked' };
  try {
    await handle.signal(d1StatusReportSignal, { operations: report.operations });
  } catch (err) {
    // Closed since the listing (or Temporal did not take the signal): the next run sees it again if still open.
    log.warn('reconciliation: the order did not take D1 status', {
      workflowId: order.workflowId,
      reason: reasonOf(err),
    });
    return { kind: 'failed' };
  }
  return { kind: 'checked', disagreement: { ...found, d1Stage: atD1.stage, d1Status: atD1.status, updated: true } };
}

/**
 * Checks one page of open orders against D1, `concurrency` at a time: reads each order's state (its query), skips
 * one not at D1 yet, asks D1 for its card's status, and where D1 is ahead of the order sends it D1's operations as a
 * `d1StatusReport` signal (the order drops what it already has and never moves backwards). An order D1 does not know
 * is reported, not signalled. A failure of one order (D1 down after a few tries, the order closed) is counted and
 * never fails the page; a retry of the whole page is harmless (reads, and signals the order deduplicates).
 * Heartbeats between orders (and while waiting), so a cancel or a lost worker is noticed.
 */
export function createReconcileOrderPage(d1: D1Client, targets: ReconcileTargets | undefined) {
  return function reconcileOrderPage(input: { orders: OpenOrder[] }): Promise<ReconcilePageResult> {
    if (!targets) {
      throw ApplicationFailure.nonRetryable(
        'This worker has no Temporal client for the reconciliation',
        RECONCILE_UNAVAILABLE,
      );
    }
    const { temporal, concurrency } = targets;
    return withHeartbeat(async (signal) => {
      const context = Context.current();
      const counts = emptyCounts();
      const disagreements: ReconcileDisagreement[] = [];
      let done = 0;
      // At most `concurrency` at once, and no new one once the signal aborts.
      await forEachBounded(
        input.orders,
        concurrency,
        async (order) => {
          const outcome = await reconcileOne(temporal, d1, order, signal);
          counts[outcome.kind] += 1;
          if (outcome.kind === 'checked' && outcome.disagreement) {
            disagreements.push(outcome.disagreement);
            counts.disagreements += 1;
            if (outcome.disagreement.updated) counts.updated += 1;
            else counts.unknownAtD1 += 1;
          }
          done += 1;
          context.heartbeat({ done });
        },
        { signal },
      );
      // Cancelled (the reconciliation was cancelled, or the worker stops): end as cancelled, not with a partial page.
      if (signal.aborted) throw signal.reason;
      return { counts, disagreements };
    });
  };
}
