import type { D1Client } from '../d1/client.js';
import type { OperationAccepted, OrderRequest, OrderRequestWithExtraFields } from '../d1/schemas.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import type { CardOrder } from '../orders/schema.js';
import { withHeartbeat } from './heartbeat.js';
import { withTypedFailures } from './failures.js';
import { checkAcceptedOrder, checkOrder } from './order-checks.js';

/**
 * The D1 order body for `order`, under `issuerRequestId` (the order's own, or a re-order's). `replacesCardIdField`
 * (D1_REPLACES_CARD_ID_FIELD) names the field an issuer's D1 onboarding added for the card a RENEWAL or REPLACEMENT
 * replaces; D1 documents none, so without it `replacesCardId` stays ours and is never sent.
 */
export function toD1OrderRequest(
  order: CardOrder,
  issuerRequestId: string,
  replacesCardIdField?: string,
): OrderRequestWithExtraFields {
  const body: OrderRequest = {
    distributionChannel: 'THALES',
    cardProductId: order.cardProductId,
    consumerId: order.consumerId,
    issuerRequestId,
    services: order.services,
    shipment: order.shipment,
    encryptedData: order.encryptedData,
    ...(order.cardDesign && { cardDesign: order.cardDesign }),
    ...(order.cardCarrierConfig && { cardCarrierConfig: order.cardCarrierConfig }),
    ...(order.packagingConfig && { packagingConfig: order.packagingConfig }),
    ...(order.paymentApplication && { paymentApplication: order.paymentApplication }),
    ...(order.trackData && { trackData: order.trackData }),
  };
  return replacesCardIdField && order.replacesCardId !== undefined
    ? { ...body, [replacesCardIdField]: order.replacesCardId }
    : body;
}

/**
 * Orders the card at D1. The first submission, under the order's own issuerRequestId, is checked against the order
 * schema and its program (the client checked it already; this guards a workflow started by other means, at no cost
 * in history). A re-order or re-ship, under an id the order derived (any other id), sends what was accepted then:
 * D1's own rules for the body only, so a program changed in the catalog since, or an original id placed before the
 * re-order suffix was reserved, does not fail it. Safe to retry: D1 returns the original operation for the same
 * issuerRequestId.
 */
export function createSubmitOrder(
  d1: D1Client,
  catalog: ProgramCatalog,
  { replacesCardIdField }: { replacesCardIdField?: string | undefined } = {},
) {
  return function submitOrder(input: { order: CardOrder; issuerRequestId: string }): Promise<OperationAccepted> {
    return withTypedFailures(() => {
      // The input crossed Temporal: the order's own id is read without trusting its shape (the checks do that).
      const ownId = (input.order as { issuerRequestId?: unknown } | undefined)?.issuerRequestId;
      const order =
        input.issuerRequestId === ownId
          ? checkOrder(input.order, catalog)
          : checkAcceptedOrder(input.order, input.issuerRequestId);
      const body = toD1OrderRequest(order, input.issuerRequestId, replacesCardIdField);
      return withHeartbeat((signal) => d1.orderCard(order.issuerId, order.cardId, body, { signal }));
    });
  };
}
