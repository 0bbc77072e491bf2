import type { D1Client } from '../d1/client.js';
import type { OperationAccepted, OrderRequest, OrderRequestWithExtraFields } from '../d1/schemas.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import type { CardOrder } from '../orders/schema.js';
import { withHeartbeat } from './heartbeat.js';
import { withTypedFailures } from './failures.js';
import { checkOrder } from './validate-order.js';

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
 * Orders the card at D1, after checking the order against its schema and program (the client checked it already;
 * this guards a workflow started by other means, at no cost in history). Safe to retry: D1 returns the original
 * operation for the same issuerRequestId.
 */
export function createSubmitOrder(
  d1: D1Client,
  catalog: ProgramCatalog,
  { replacesCardIdField }: { replacesCardIdField?: string | undefined } = {},
) {
  return function submitOrder(input: { order: CardOrder; issuerRequestId: string }): Promise<OperationAccepted> {
    return withTypedFailures(() => {
      const order = checkOrder(input.order, catalog);
      const body = toD1OrderRequest(order, input.issuerRequestId, replacesCardIdField);
      return withHeartbeat((signal) => d1.orderCard(order.issuerId, order.cardId, body, { signal }));
    });
  };
}
