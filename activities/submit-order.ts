import { Context } from '@temporalio/activity';
import type { D1Client } from '../d1/client.js';
import type { OperationAccepted, OrderRequest } from '../d1/schemas.js';
import type { CardOrder } from '../orders/schema.js';
import { withTypedFailures } from './failures.js';

/** The D1 order body for `order`, under `issuerRequestId` (the order's own, or a re-order's). */
export function toD1OrderRequest(order: CardOrder, issuerRequestId: string): OrderRequest {
  return {
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
}

/** Orders the card at D1. Safe to retry: D1 returns the original operation for the same issuerRequestId. */
export function createSubmitOrder(d1: D1Client) {
  return function submitOrder(input: { order: CardOrder; issuerRequestId: string }): Promise<OperationAccepted> {
    return withTypedFailures(() =>
      d1.orderCard(input.order.issuerId, input.order.cardId, toD1OrderRequest(input.order, input.issuerRequestId), {
        signal: Context.current().cancellationSignal,
      }),
    );
  };
}
