/**
 * What the simulator keeps of an order and says about it: the records behind the order store, its verdicts on a
 * submission or a Pull & change, and the summaries and counts its control endpoints list. No card data: ids,
 * product, operations.
 *
 * @module
 */
import type { Operation } from '../d1/report-schemas.js';
import type { UpdateOrderType } from '../d1/schemas.js';
import type { Timer } from './clock.js';
import type { OutcomeRule } from './faults.js';

/** What the order endpoint hands over once the request is valid: ids and product, no card data. */
export interface NewOrder {
  issuerId: string;
  cardId: string;
  issuerRequestId: string;
  cardProductId: string;
  /** The fields the issuer's onboarding added to the order body (D1_SIM_EXTRA_ORDER_FIELDS) it carried; absent: none. */
  extraFields?: Record<string, string>;
}

/** The store's verdict on a submission. */
export type SubmitResult =
  { kind: 'created' | 'resubmitted'; operationId: string } | { kind: 'in-progress'; issuerRequestId: string };

/** The store's verdict on a Pull & change request. */
export type UpdateResult =
  /** A new UPDATE_ORDER operation, or (`replayed`) the one an earlier request under the same request id started. */
  | { kind: 'created' | 'replayed'; operationId: string }
  | { kind: 'unknown-card' }
  /** The request id already names a different change of this card: nothing done. */
  | { kind: 'request-id-reused' };

/**
 * What `GET /__sim/stats` answers: the order calls D1 received since the start or the last reset, faulted ones
 * included, so a benchmark can tell D1 calls per card.
 */
export interface OrderStats {
  /** Calls to the single-card order endpoint. */
  orderRequests: number;
  /** Calls to the batch "Order cards" endpoint. */
  batchRequests: number;
  /** Cards in the batch calls whose envelope (`{cards: [...]}`) was valid. */
  batchCards: number;
  /**
   * Every call to D1's banking API (orders, batches, status, Pull & change), faulted ones included; token calls
   * are not counted. What an issuer pays D1 for.
   */
  apiCalls: number;
}

export const noStats: Readonly<OrderStats> = Object.freeze({
  orderRequests: 0,
  batchRequests: 0,
  batchCards: 0,
  apiCalls: 0,
});

/** One line of `GET /__sim/orders`. */
export interface OrderSummary extends NewOrder {
  operationId: string;
  submissions: number;
  status: Operation['status'];
  detailsStatus: string;
  /** Pull & change requests accepted (CANCEL, ACCELERATE...). */
  updates: UpdateOrderType[];
  createdAt: string;
  /** When the PRODUCE operation ended (shipped, failed or cancelled). */
  endTime: string | undefined;
}

export interface OrderRecord extends NewOrder {
  operation: Operation;
  submissions: number;
  createdAt: number;
  outcome: OutcomeRule | undefined;
  /** The Pull & change requests accepted for this order. */
  updates: UpdateOrderType[];
  timer: Timer | undefined;
  /** A CANCEL was accepted: production stopped, the cancellation lands one step later. */
  canceling: boolean;
  /** Carrier statuses still to report once shipped, one step apart (the `shipmentUpdates` knob when it shipped). */
  carrierReports: string[];
  /** The card is reported returned one step after its last carrier report (decided when it ships). */
  returns: boolean;
}

export interface CardRecord {
  orders: OrderRecord[];
  /** PRODUCE and UPDATE_ORDER operations, oldest first, as the status endpoint lists them. */
  operations: Operation[];
  /** Pull & change requests by request id: the operation each started, and a hash of its body. */
  updateRequests: Map<string, { operationId: string; bodyHash: string }>;
}
