/**
 * What the card-order workflow shares with its callers (client library, webhook, tests): its input and result
 * types, and the signal, query and update it answers. Callers import this file, never the workflow body.
 *
 * @module
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Operation, ShipmentTracking } from '../d1/schemas.js';
import type { CardOrder } from '../orders/schema.js';
import type { TimelineEntry, TrackingState } from './order-tracking.js';

/** The order's state as operators filter it (`CardOrderStatus` search attribute). */
export type CardOrderStatus =
  | 'VALIDATING'
  | 'SUBMITTING'
  | 'SUBMITTED'
  | 'IN_PRODUCTION'
  | 'SHIPPED'
  | 'CANCELLING'
  | 'CANCELLED'
  | 'COMPENSATING'
  | 'COMPENSATED'
  | 'FAILED';

/** Tracking timings, resolved from the order's overrides and the configured defaults, in ms. */
export interface OrderTimings {
  notificationTimeoutMs: number;
  pollIntervalMs: number;
  productionDeadlineMs: number;
  /** Wait before re-ordering a card D1 reported OUT_OF_STOCK. */
  outOfStockReorderDelayMs: number;
  /** How many times an OUT_OF_STOCK order is re-ordered before it is compensated. */
  outOfStockMaxReorders: number;
  /** How long one D1 call's transient failures are retried; runs recorded before it existed used 15 minutes. */
  d1RetryTimeoutMs?: number;
}

/** What a run hands to the next one when history grows long (continue-as-new). */
export interface CarriedState {
  status: CardOrderStatus;
  tracking: TrackingState;
  /** Epoch ms the order started, so the deadline spans every run. */
  startedAt: number;
  reorders: number;
  submittedRequestIds: string[];
  lastPollAt: string | undefined;
  polls: number;
  pendingCancel: string | undefined;
}

export interface CardOrderInput {
  order: CardOrder;
  timings: OrderTimings;
  /** Whether lifecycle events go to the issuer (ISSUER_EVENTS_URL is set). */
  publishEvents: boolean;
  carried?: CarriedState;
}

export interface CardOrderResult {
  status: 'SHIPPED' | 'CANCELLED';
  operationId: string;
  shipment: ShipmentTracking | undefined;
  timeline: TimelineEntry[];
}

/** The order as a query returns it: identifiers and states only, no PII. */
export interface OrderState {
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  status: CardOrderStatus;
  stage: string | undefined;
  operationId: string | undefined;
  shipment: ShipmentTracking | undefined;
  failure: TrackingState['failure'];
  timeline: TimelineEntry[];
  attempts: { submissions: number; reorders: number; polls: number };
  lastPollAt: string | undefined;
  compensations: string[];
}

export interface CancelResult {
  outcome: 'CANCELLED' | 'REJECTED';
  /** Why D1 (or the workflow) refused, e.g. ORDER_ALREADY_SHIPPED. */
  reason?: string | undefined;
}

/** D1 operation reports, as the webhook received them. */
export const d1NotificationSignal = defineSignal<[{ operations: Operation[] }]>('d1Notification');
export const orderStateQuery = defineQuery<OrderState>('orderState');
/** Asks D1 to cancel the order; answers once D1 confirmed or refused. */
export const cancelOrderUpdate = defineUpdate<CancelResult>('cancelOrder');

/** Failure types the workflow ends with (`ApplicationFailure.type`), for callers to switch on. */
export const cardOrderFailureTypes = {
  invalid: 'ORDER_INVALID',
  rejected: 'ORDER_REJECTED',
  productionFailed: 'PRODUCTION_FAILED',
  deadlineExceeded: 'PRODUCTION_DEADLINE_EXCEEDED',
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
