/**
 * What the card-order workflows share with their callers (client library, webhook, tests): inputs, results, the
 * order's one status field, and the signal, query and update they answer. Callers import this file, never a
 * workflow body.
 *
 * @module
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Address, Operation, ShipmentTracking } from '../d1/schemas.js';
import type { OrderFingerprint } from '../orders/fingerprint.js';
import type { CardOrder } from '../orders/schema.js';
import type { OrderMachineState } from './card-order/order-machine.js';

/** The workflow type new orders run as. */
export const CARD_ORDER_WORKFLOW = 'cardOrderV2';
/** Every card-order workflow type, the first one (`cardOrder`) included while its runs drain. */
export const CARD_ORDER_WORKFLOW_TYPES = ['cardOrder', CARD_ORDER_WORKFLOW] as const;

/**
 * The order's status, the one field operators filter by (`CardOrderStatus` search attribute). D1's own production
 * stage (e.g. `CARD_PROD_CANCELED`, D1's spelling) is a separate detail, `stage`.
 */
export const cardOrderStatuses = [
  /** First-generation orders only: the order is being checked against its program. */
  'VALIDATING',
  'SUBMITTING',
  'SUBMITTED',
  'IN_PRODUCTION',
  /** D1 reported OUT_OF_STOCK; the card is re-ordered after a delay. */
  'AWAITING_STOCK',
  'CANCELLING',
  'SHIPPED',
  'CANCELLED',
  'COMPENSATING',
  'COMPENSATED',
  /** Compensation itself failed: something may still be live at D1. An operator must look. */
  'COMPENSATION_FAILED',
  'FAILED',
] as const;
export type CardOrderStatus = (typeof cardOrderStatuses)[number];

/** Statuses an order never leaves. */
export const finalCardOrderStatuses: readonly CardOrderStatus[] = [
  'SHIPPED',
  'CANCELLED',
  'COMPENSATED',
  'COMPENSATION_FAILED',
  'FAILED',
];

/** Timings of one order, resolved from its overrides and the configured defaults, in ms. */
export interface OrderTimings {
  /** Quiet time after the last news from D1 (a notification, a poll that found a change) before the first poll. */
  notificationTimeoutMs: number;
  /** The poll interval after that first poll; it doubles with each poll that finds nothing new. */
  pollIntervalMs: number;
  /** The most time between two polls: how late, at worst, the order learns of a lost notification. */
  pollMaxIntervalMs: number;
  /** Quiet time after a Pull & change request (a cancel) before polling for D1's verdict; it doubles after. */
  changeVerdictTimeoutMs: number;
  /** The overall limit: past it the order is compensated. */
  productionDeadlineMs: number;
  /** Wait before re-ordering a card D1 reported OUT_OF_STOCK. */
  outOfStockReorderDelayMs: number;
  /** How many times an OUT_OF_STOCK order is re-ordered before it is compensated. */
  outOfStockMaxReorders: number;
  /** How long the transient failures (5xx, 429, timeouts, auth) of one D1 call that must succeed are retried. */
  d1RetryTimeoutMs: number;
}

export interface CardOrderInput {
  order: CardOrder;
  timings: OrderTimings;
  /** Whether lifecycle events go to the issuer (ISSUER_EVENTS_URL is set). */
  publishEvents: boolean;
  /** The whole state of the previous run, when this run continues it (continue-as-new). */
  carried?: OrderMachineState;
  /**
   * The order's keyed fingerprint, for the client to tell the same order placed again from a different one under the
   * same issuerRequestId (ORDER_CONFLICT). The workflow only carries it along.
   */
  fingerprint?: OrderFingerprint | undefined;
}

/** One applied (or ignored) D1 report, as the order's timeline shows it. */
export interface TimelineEntry {
  /** Workflow time the report was applied (ISO 8601). */
  at: string;
  operationId: string;
  operation: string;
  status: string;
  stage: string;
  shipmentStatus?: string | undefined;
  errorCode?: string | undefined;
  /** `reconcile`: the nightly reconciliation found D1 ahead of the order and passed on D1's status. */
  source: 'notification' | 'poll' | 'reconcile';
  /** True when the report came after a later stage and changed nothing. */
  late?: boolean;
}

export interface ProductionFailure {
  errorCode: string;
  stage: string;
  error?: string | undefined;
  reason?: string | undefined;
}

/** The order as queries, results and failure details show it: identifiers and states only, no PII. */
export interface OrderState {
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  /** The order's program; absent on first-generation orders. */
  cardProductId?: string | undefined;
  status: CardOrderStatus;
  /** D1's production stage of the current D1 order (`details.status`), e.g. CARD_PROD_ONGOING. */
  stage: string | undefined;
  operationId: string | undefined;
  /** D1's estimated shipment date (YYYY-MM-DD), when D1 gave one. */
  dueDate: string | undefined;
  shipment: ShipmentTracking | undefined;
  failure: ProductionFailure | undefined;
  timeline: TimelineEntry[];
  attempts: { submissions: number; reorders: number; polls: number; pollFailures: number };
  lastPollAt: string | undefined;
  /** When the next status poll is planned (ISO 8601), while the order waits on D1. */
  nextPollAt: string | undefined;
  compensations: string[];
  /** Pull & change requests (accelerate, redirect) and their verdicts, oldest first; absent on older orders. */
  changes?: ChangeRecord[] | undefined;
}

/** Pull & change requests other than cancel (which has its own update). */
export const changeTypes = ['ACCELERATE', 'REDIRECT', 'ACCELERATE_AND_REDIRECT'] as const;
export type ChangeType = (typeof changeTypes)[number];

/** An accelerate, a redirect (with the new delivery address), or both. */
export interface ChangeRequest {
  type: ChangeType;
  /** Required for the REDIRECT kinds, absent otherwise. */
  newDeliveryAddress?: Address | undefined;
}

export interface ChangeResult {
  outcome: 'ACCEPTED' | 'REJECTED';
  /** Why the personalization center (or the workflow) refused, e.g. ADDRESS_LOCKED or ORDER_ALREADY_SHIPPED. */
  reason?: string | undefined;
}

/** A change as the order's state lists it: no address (it is personal data). */
export interface ChangeRecord extends ChangeResult {
  type: ChangeType;
  requestedAt: string;
}

export interface CardOrderResult {
  status: 'SHIPPED' | 'CANCELLED';
  operationId: string | undefined;
  shipment: ShipmentTracking | undefined;
  timeline: TimelineEntry[];
  /** The order's final state (so a closed order reads without a worker). */
  state: OrderState;
}

/** `details[0]` of the `ApplicationFailure` a failed order ends with. */
export interface CardOrderFailureDetails {
  /** Our error code behind the failure (e.g. ERR_D1_BAD_REQUEST), when there is one. */
  code: string | undefined;
  /** D1's own error code (e.g. OUT_OF_STOCK, TEMPLATE_NOT_FOUND), when D1 gave one. */
  d1ErrorCode: string | undefined;
  stage: string | undefined;
  operationId: string | undefined;
  /** The order's final state. */
  state: OrderState;
}

export interface CancelResult {
  outcome: 'CANCELLED' | 'REJECTED';
  /** Why D1 (or the workflow) refused, e.g. ORDER_ALREADY_SHIPPED, or D1's error code. */
  reason?: string | undefined;
}

/** D1 operation reports, as the webhook received them (all of one batch's reports for this order). */
export const d1NotificationSignal = defineSignal<[{ operations: Operation[] }]>('d1Notification');
/**
 * D1's status of the card as the reconciliation read it (`GET .../productionStatus`), applied like a poll's answer:
 * deduplicated, never moving the order backwards.
 */
export const d1StatusReportSignal = defineSignal<[{ operations: Operation[] }]>('d1StatusReport');
export const orderStateQuery = defineQuery<OrderState>('orderState');
/**
 * Asks D1 to cancel the order; answers once D1 confirmed or refused. Its validator refuses at once (nothing written
 * to history) an order that already ended: the update then fails with an `ApplicationFailure` whose `type` is the
 * reason, e.g. ORDER_ALREADY_SHIPPED.
 */
export const cancelOrderUpdate = defineUpdate<CancelResult>('cancelOrder');
/**
 * Pull & change: asks D1 to accelerate the order, redirect it to a new address, or both; answers with the
 * personalization center's verdict (its UPDATE_ORDER report, or a poll when that report is lost). Changes are
 * carried out one at a time, in the order they came. The validator refuses at once what cannot succeed: the reason
 * is the failure's `type` (ORDER_ALREADY_SHIPPED, ORDER_ALREADY_CANCELLED, ORDER_ALREADY_FAILED, ORDER_CANCELLING,
 * ORDER_NOT_AT_D1, CHANGE_INVALID).
 */
export const changeOrderUpdate = defineUpdate<ChangeResult, [ChangeRequest]>('changeOrder');

/** Failure types an order ends with (`ApplicationFailure.type`), for callers to switch on. */
export const cardOrderFailureTypes = {
  invalid: 'ORDER_INVALID',
  rejected: 'ORDER_REJECTED',
  productionFailed: 'PRODUCTION_FAILED',
  deadlineExceeded: 'PRODUCTION_DEADLINE_EXCEEDED',
  compensationFailed: 'COMPENSATION_FAILED',
} as const;

/** Notifications D1 sent for a card with no running order, kept for a retention period. */
export interface UnmatchedNotificationsInput {
  issuerId: string;
  cardId: string;
  /** How long the record lives after the last notification, in ms. */
  retentionMs: number;
  /** What a previous run kept (continue-as-new). */
  kept?: UnmatchedNotification[];
}

export interface UnmatchedNotification {
  /** Workflow time it arrived (ISO 8601). */
  receivedAt: string;
  operation: Operation;
}

export const unmatchedNotificationsQuery = defineQuery<UnmatchedNotification[]>('unmatchedNotifications');

/** What an operator's redelivery handed on: the dedupe keys of the operations its card's order now has. */
export interface ReleaseUnmatchedRequest {
  keys: string[];
}

/** How many notifications the record still keeps after a release; at 0 the record ends. */
export interface ReleaseUnmatchedResult {
  remaining: number;
}

/** Drops the notifications an operator redelivered to the card's order; the record ends once none remain. */
export const releaseUnmatchedUpdate = defineUpdate<ReleaseUnmatchedResult, [ReleaseUnmatchedRequest]>(
  'releaseUnmatched',
);
