/**
 * The nightly reconciliation with D1: its workflow type, Schedule id, counts, progress and summary.
 *
 * @module
 */
import type { CardOrderStatus } from './card-order.js';

/** The reconciliation with D1: its Schedule (RECONCILE_SCHEDULE) or `reconcileNow` starts it on the task queue. */
export const RECONCILE_ORDERS_WORKFLOW = 'reconcileOrders';

/** The id of the task queue's reconciliation Schedule; the runs it starts have ids beginning with it. */
export function reconcileScheduleId(taskQueue: string): string {
  return `reconcile-orders:${taskQueue}`;
}

/**
 * What one reconciliation found, summed over its pages of open orders. Each order listed counts once in `checked`,
 * `failed` or `skipped`; `updated` and `unknownAtD1` are the two kinds of `disagreements`, all among `checked`.
 */
export interface ReconcileCounts {
  /** Orders compared with D1's status of their card. */
  checked: number;
  /** Orders D1 was ahead of, sent D1's status (`d1StatusReport`). */
  updated: number;
  /** Orders whose D1 state disagreed: D1 ahead of them (updated), or D1 not knowing them (unknownAtD1). */
  disagreements: number;
  /** Orders at D1 by their own account that D1 does not know (404, or no operation under the order's id). */
  unknownAtD1: number;
  /** Orders that could not be checked (D1 failing, the order closed or not answering); the next run tries again. */
  failed: number;
  /** Orders not at D1 yet (no D1 operation): nothing to compare. */
  skipped: number;
}

/** An order whose D1 state disagreed with its own: identifiers and stages only, no personal or card data. */
export interface ReconcileDisagreement {
  workflowId: string;
  issuerRequestId: string;
  cardId: string;
  /** The order's tracked D1 PRODUCE operation. */
  operationId: string;
  orderStatus: CardOrderStatus;
  orderStage: string | undefined;
  /** D1's stage of that operation, or `UNKNOWN_AT_D1`. */
  d1Stage: string;
  /** D1's status of that operation (PENDING, SUCCESSFUL, FAILED); undefined when D1 does not know it. */
  d1Status: string | undefined;
  /** Whether D1's status was passed on to the order (`d1StatusReport`). */
  updated: boolean;
  /** When the reconciliation saw it (ISO 8601). */
  detectedAt: string;
}

/** Where a reconciliation stands; carried across continue-as-new. */
export interface ReconcileProgress {
  startedAt: string;
  /** Pages of open orders done so far. */
  pages: number;
  /** Visibility's token for the next page (base64); undefined before the first page and after the last. */
  pageToken: string | undefined;
  counts: ReconcileCounts;
  /** The latest disagreements, oldest first, at most 100 (all of them are counted in `counts`). */
  latestDisagreements: ReconcileDisagreement[];
  /** Disagreement events the issuer endpoint did not take within their retries. */
  undeliveredEvents: number;
}

export interface ReconcileOrdersInput {
  /** Where the previous run of this reconciliation stopped (continue-as-new). */
  carried?: ReconcileProgress | undefined;
}

/** A reconciliation's result: its counts and the latest disagreements. */
export interface ReconcileSummary extends Omit<ReconcileProgress, 'pageToken'> {
  finishedAt: string;
}
