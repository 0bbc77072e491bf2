/**
 * The order as others see it: queries, results and failure details (`orderView`), search attributes, and the
 * "current details" line of Web UI.
 *
 * @module
 */
import type { CardOrderStatus, DeliveryView, OrderState } from '../contracts/card-order.js';
import { afterShipment, reshipsLeft, reshipWaitMs } from './after-shipment.js';
import { behaves } from './behaviour.js';
import { iso, type OrderMachineState } from './order-machine.js';
import { plannedPollAt } from './polling.js';
import { isKnownStage } from './production-tracking.js';

function deliveryView(s: OrderMachineState): DeliveryView | undefined {
  const d = s.delivery;
  if (!d) return undefined;
  const waitsForReship = s.status === 'RETURNED' && s.end === undefined && d.returnedAt !== undefined;
  return {
    windowEndsAt: s.status === 'SHIPPED' && d.windowEndsAt !== undefined ? iso(d.windowEndsAt) : undefined,
    returnedAt: d.returnedAt === undefined ? undefined : iso(d.returnedAt),
    reshipWaitEndsAt: waitsForReship ? iso((d.returnedAt ?? 0) + reshipWaitMs(s)) : undefined,
    returns: d.returns,
    reships: d.reships.map((r) => ({
      requestedAt: iso(r.requestedAt),
      outcome: r.result?.outcome ?? 'PENDING',
      ...(r.issuerRequestId !== undefined && { issuerRequestId: r.issuerRequestId }),
      ...(r.result?.reason !== undefined && { reason: r.result.reason }),
    })),
  };
}

/** The order as queries, results and failure details show it. */
export function orderView(s: OrderMachineState): OrderState {
  const p = s.production;
  const pollAt = plannedPollAt(s);
  return {
    issuerId: s.issuerId,
    cardId: s.cardId,
    issuerRequestId: s.issuerRequestId,
    ...(s.cardProductId !== undefined && { cardProductId: s.cardProductId }),
    status: s.status,
    stage: p.stage,
    operationId: p.operationId,
    dueDate: p.dueDate,
    shipment: p.shipment,
    failure: p.failure,
    timeline: p.timeline,
    attempts: {
      submissions: s.submission.requestIds.length,
      reorders: s.submission.reorders,
      polls: s.poll.count,
      pollFailures: s.poll.failures,
    },
    lastPollAt: s.poll.lastPollAt === undefined ? undefined : iso(s.poll.lastPollAt),
    nextPollAt: pollAt === undefined ? undefined : iso(pollAt),
    compensations: s.compensation.log,
    ...(s.d1Outage && {
      d1Unreachable: {
        step: s.d1Outage.step,
        since: iso(s.d1Outage.since),
        failures: s.d1Outage.failures,
        nextTryAt: iso(s.d1Outage.retryAt),
      },
    }),
    ...(s.change && { changes: s.change.log }),
    ...(s.delivery && { delivery: deliveryView(s) }),
  };
}

/** The search attributes the order should have now; the workflow upserts those that differ from `indexed`. */
export function searchAttributeValues(s: OrderMachineState): OrderMachineState['indexed'] {
  const stage = s.production.stage ?? 'NONE';
  // A stage D1 added later is text we do not know: visibility is not encrypted, so it is indexed as UNKNOWN only.
  const indexable = stage === 'NONE' || isKnownStage(stage) || !behaves(s, 'weeks');
  return { status: s.status, stage: indexable ? stage : 'UNKNOWN' };
}

/** The live "current details" line of Web UI (markdown). */
export function describeOrder(s: OrderMachineState): string {
  const words: Record<CardOrderStatus, string> = {
    VALIDATING: 'Checking the order against its program',
    SUBMITTING: 'Sending the order to D1',
    SUBMITTED: 'Accepted by D1, waiting for production to start',
    IN_PRODUCTION: 'In production',
    AWAITING_STOCK: 'D1 is out of stock; the card will be re-ordered',
    CANCELLING: 'Cancel requested from D1, waiting for its verdict',
    D1_UNREACHABLE: `D1 does not answer; the order tries again${
      s.d1Outage ? ` at ${iso(s.d1Outage.retryAt)} (unanswered since ${iso(s.d1Outage.since)})` : ''
    }`,
    SHIPPED: `Shipped${s.production.shipment?.carrier ? ` with ${s.production.shipment.carrier}` : ''}${
      afterShipment(s) && s.delivery?.windowEndsAt !== undefined
        ? `; listening for carrier updates until ${iso(s.delivery.windowEndsAt)}`
        : ''
    }`,
    RETURNED:
      afterShipment(s) && reshipsLeft(s) > 0
        ? 'The card came back undelivered; waiting for the issuer to re-ship it to a corrected address'
        : 'The card came back undelivered',
    CANCELLED: 'Cancelled at D1',
    COMPENSATING: 'Undoing the order at D1',
    COMPENSATED: 'The order failed; it was undone at D1 and the issuer told',
    COMPENSATION_FAILED: 'The order failed and could not be undone at D1: an operator must check it',
    FAILED: 'Failed',
  };
  const stage = s.production.stage ? ` (D1 stage ${s.production.stage})` : '';
  const failure = s.production.failure ? `, error ${s.production.failure.errorCode}` : '';
  const reorders = s.submission.reorders > 0 ? `, re-ordered ${s.submission.reorders}x` : '';
  return `**${s.status}**: ${words[s.status]}${stage}${failure}${reorders}`;
}
