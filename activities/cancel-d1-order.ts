import { Context } from '@temporalio/activity';
import type { D1Client } from '../d1/client.js';
import { withTypedFailures } from './failures.js';

/**
 * The compensation of a submit: cancels at D1 whichever of this order's submissions is still in production.
 * Idempotent, and harmless when nothing reached D1 or production already ended.
 */
export function createCancelD1Order(d1: D1Client) {
  return function cancelD1Order(input: { issuerId: string; cardId: string; issuerRequestIds: string[] }): Promise<{
    cancelled: boolean;
    /** The cancel request's operation: D1's verdict on it comes as an UPDATE_ORDER report. */
    operationId?: string;
    /** The live order it asked D1 to cancel. */
    produceOperationId?: string;
  }> {
    return withTypedFailures(async () => {
      const signal = Context.current().cancellationSignal;
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
      const { operationId } = await d1.updateOrder(input.issuerId, input.cardId, { type: 'CANCEL' }, { signal });
      return { cancelled: true, operationId, produceOperationId: live.operationId };
    });
  };
}
