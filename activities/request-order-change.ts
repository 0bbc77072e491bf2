import { OrderValidationError } from '../orders/errors.js';
import type { D1Client } from '../d1/client.js';
import { describeIssues } from '../common/zod-issues.js';
import { updateOrderRequestSchema, type OperationAccepted } from '../d1/schemas.js';
import type { ChangeRequest } from '../rules/contracts/card-order.js';
import { withHeartbeat } from './heartbeat.js';
import { withTypedFailures } from './failures.js';
import { updateOrderRequestId } from './request-identity.js';

/**
 * Asks D1 to accelerate or redirect the card's order (Pull & change); the personalization center's verdict arrives
 * later as an UPDATE_ORDER report. The request is checked against D1's schema first: the workflow cannot use zod.
 * Every attempt sends the same request identity, so a retry after a slow answer is not a second change at D1.
 */
export function createRequestOrderChange(d1: D1Client) {
  return function requestOrderChange(input: {
    issuerId: string;
    cardId: string;
    request: ChangeRequest;
    /** The request's identity at D1; absent, derived from this scheduled activity (the same on every attempt). */
    requestId?: string;
  }): Promise<OperationAccepted> {
    return withTypedFailures(() => {
      const parsed = updateOrderRequestSchema.safeParse(input.request);
      if (!parsed.success) throw new OrderValidationError(describeIssues(parsed.error));
      const requestId = updateOrderRequestId(input.requestId);
      return withHeartbeat((signal) =>
        d1.updateOrder(input.issuerId, input.cardId, parsed.data, { signal, requestId }),
      );
    });
  };
}
