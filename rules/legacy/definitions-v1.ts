/**
 * The input, state and result types of the first card-order workflow (`cardOrder`), frozen as they were when its
 * histories were recorded. New orders run `cardOrderV2`; these types exist so that runs started before it can
 * finish, and replay, on unchanged code.
 *
 * @module
 */
import { defineQuery } from '@temporalio/workflow';
import type { ShipmentTracking } from '../../d1/report-schemas.js';
import type { CardOrder } from '../../orders/schema.js';
import type { TimelineEntry, TrackingState } from './order-tracking-v1.js';

export type CardOrderStatusV1 =
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

export interface OrderTimingsV1 {
  notificationTimeoutMs: number;
  pollIntervalMs: number;
  productionDeadlineMs: number;
  outOfStockReorderDelayMs: number;
  outOfStockMaxReorders: number;
  d1RetryTimeoutMs?: number;
}

export interface CarriedStateV1 {
  status: CardOrderStatusV1;
  tracking: TrackingState;
  startedAt: number;
  reorders: number;
  submittedRequestIds: string[];
  lastPollAt: string | undefined;
  polls: number;
  pendingCancel: string | undefined;
}

export interface CardOrderInputV1 {
  order: CardOrder;
  timings: OrderTimingsV1;
  publishEvents: boolean;
  carried?: CarriedStateV1;
}

export interface CardOrderResultV1 {
  status: 'SHIPPED' | 'CANCELLED';
  operationId: string;
  shipment: ShipmentTracking | undefined;
  timeline: TimelineEntry[];
}

export interface OrderStateV1 {
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  status: CardOrderStatusV1;
  stage: string | undefined;
  operationId: string | undefined;
  shipment: ShipmentTracking | undefined;
  failure: TrackingState['failure'];
  timeline: TimelineEntry[];
  attempts: { submissions: number; reorders: number; polls: number };
  lastPollAt: string | undefined;
  compensations: string[];
}

/** The same `orderState` query as today's orders answer, with the state shape of these runs. */
export const orderStateQueryV1 = defineQuery<OrderStateV1>('orderState');
