import type { D1Client } from '../d1/client.js';
import { withHeartbeat } from './heartbeat.js';
import { withTypedFailures } from './failures.js';
import { updateOrderRequestId } from './request-identity.js';

/**
 * The compensation of a submit: cancels at D1 whichever of this order's submissions is still in production.
 * Idempotent, and harmless when nothing reached D1 or production already ended; a retry sends the same cancel
 * request identity, so D1 cancels once.
 */
export function createCancelD1Order(d1: D1Client) {
  return function cancelD1Order(input: {
    issuerId: string;
    cardId: string;
    issuerRequestIds: string[];
    /** The cancel request's identity at D1; absent, derived from this scheduled activity (the same on every attempt). */
    requestId?: string;
  }): Promise<{
    cancelled: boolean;
    /** The cancel request's operation: D1's verdict on it comes as an UPDATE_ORDER report. */
    operationId?: string;
    /** The live order it asked D1 to cancel. */
    produceOperationId?: string;
  }> {
    return withTypedFailures(() => {
      const requestId = updateOrderRequestId(input.requestId);
      return withHeartbeat(async (signal) => {
        let operations;
        try {
          ({ operations } = await d1.getProductionStatus(input.issuerId, input.cardId, { signal }));
        } catch (err) {
          if ((err as { code?: string }).code === 'ERR_D1_NOT_FOUND') return { cancelled: false };
          throw err;
        }
        const live = operations.find(
          (op) =>
            op.operation === 'PRODUCE' &&
            op.status === 'PENDING' &&
            op.issuerRequestId !== undefined &&
            input.issuerRequestIds.includes(op.issuerRequestId),
        );
        if (!live) return { cancelled: false };
        const { operationId } = await d1.updateOrder(
          input.issuerId,
          input.cardId,
          { type: 'CANCEL' },
          { signal, requestId },
        );
        return { cancelled: true, operationId, produceOperationId: live.operationId };
      });
    });
  };
}
