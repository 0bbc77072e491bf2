/**
 * After shipment: the delivery window (carrier updates, a return), the wait for a corrected address once the card
 * came back, and re-ships to it.
 *
 * @module
 */
import type { Address } from '../../d1/schemas.js';
import { MAX_REORDERS } from '../../orders/reorder-id.js';
import { DEFAULT_DELIVERY_WINDOW_MS, DEFAULT_RESHIP_WAIT_MS, type ReshipResult } from '../contracts/card-order.js';
import type { DeliveryState, OrderMachineState } from './order-machine.js';
import { answerWaitingRequests, endWith, refusalAfterEnd, setStatus } from './status.js';

/** Shipped or returned, the order still open: D1 has nothing left to produce, so nothing to cancel or poll. */
export function afterShipment(s: OrderMachineState): boolean {
  return s.end === undefined && (s.status === 'SHIPPED' || s.status === 'RETURNED');
}

export function deliveryOf(s: OrderMachineState): DeliveryState {
  return (s.delivery ??= {
    windowEndsAt: undefined,
    returnedAt: undefined,
    returns: 0,
    reships: [],
    address: undefined,
    productionStartedAt: undefined,
  });
}

const deliveryWindowMs = (s: OrderMachineState) => s.timings.deliveryWindowMs ?? DEFAULT_DELIVERY_WINDOW_MS;
/** Whether the order listens after shipment; runs from before the delivery window end at shipment. */
export const listens = (s: OrderMachineState) => s.listensAfterShipment === true && deliveryWindowMs(s) > 0;
export const reshipWaitMs = (s: OrderMachineState) => s.timings.reshipWaitMs ?? DEFAULT_RESHIP_WAIT_MS;

/** D1 handed the card to the carrier: the order listens for carrier updates and a return until its window closes. */
export function shipped(s: OrderMachineState, now: number): void {
  // An operator who cancelled the workflow before the shipment won the race wants the run to end: no window.
  if (!listens(s) || s.cancel.byWorkflow) return endWith(s, { status: 'SHIPPED', compensate: false }, now);
  if (s.status === 'SHIPPED') return;
  deliveryOf(s).windowEndsAt = now + deliveryWindowMs(s);
  answerWaitingRequests(s, 'ORDER_ALREADY_SHIPPED', false);
  setStatus(s, 'SHIPPED', now);
}

/** D1 reported the card returned: the order ends there, or waits for the issuer's corrected address. */
export function returned(s: OrderMachineState, now: number): void {
  if (s.status === 'RETURNED') return;
  const d = deliveryOf(s);
  d.returnedAt = now;
  d.returns += 1;
  d.windowEndsAt = undefined;
  answerWaitingRequests(s, 'ORDER_ALREADY_SHIPPED', false);
  setStatus(s, 'RETURNED', now);
  if (reshipsLeft(s) <= 0 || s.cancel.byWorkflow) endWith(s, { status: 'RETURNED', compensate: false }, now);
}

/** Re-ships the order's program still allows. */
export function reshipsLeft(s: OrderMachineState): number {
  const policy = s.returnPolicy;
  if (policy?.action !== 'RESHIP') return 0;
  const done = s.delivery?.reships.filter((r) => r.result?.outcome === 'RESHIPPED').length ?? 0;
  return Math.min(policy.maxReships - done, MAX_REORDERS - s.submission.reorders);
}

/** Why a re-ship cannot be carried out now, as the update's refusal reason; undefined when it can. */
export function reshipRefusal(s: OrderMachineState, request: unknown): string | undefined {
  const address = (request as { newDeliveryAddress?: unknown } | null)?.newDeliveryAddress;
  if (typeof address !== 'object' || address === null) return 'RESHIP_INVALID';
  if (s.end !== undefined) return refusalAfterEnd(s.end.status);
  if (s.status !== 'RETURNED') return 'ORDER_NOT_RETURNED';
  if (s.returnPolicy?.action !== 'RESHIP') return 'RESHIP_NOT_ALLOWED';
  if (s.delivery?.reships.some((r) => r.result === undefined)) return 'RESHIP_IN_PROGRESS';
  return reshipsLeft(s) > 0 ? undefined : 'RESHIP_LIMIT_REACHED';
}

/**
 * A re-ship of a returned card (the update, after {@link reshipRefusal}): the card is ordered again from D1, to
 * `address`. Returns the id under which its answer appears in {@link reshipResult}.
 */
export function onReshipRequested(s: OrderMachineState, address: Address, now: number): number {
  const d = deliveryOf(s);
  const id = d.reships.length + 1;
  d.reships.push({ id, requestedAt: now, issuerRequestId: undefined, result: undefined });
  d.address = address;
  return id;
}

export function reshipResult(s: OrderMachineState, id: number): ReshipResult | undefined {
  return s.delivery?.reships.find((r) => r.id === id)?.result;
}
