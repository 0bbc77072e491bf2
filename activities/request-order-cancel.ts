import type { D1Client } from '../d1/client.js';
import type { OperationAccepted } from '../d1/schemas.js';
import { withHeartbeat } from './heartbeat.js';
import { withTypedFailures } from './failures.js';
import { updateOrderRequestId } from './request-identity.js';

/**
 * Asks D1 to cancel the card's order (Pull & change); D1's verdict arrives later as an UPDATE_ORDER report. Every
 * attempt sends the same request identity (`requestId`, else one derived from this activity), so a retry after a
 * slow answer is not a second cancel at D1.
 */
export function createRequestOrderCancel(d1: D1Client) {
  return function requestOrderCancel(card: {
    issuerId: string;
    cardId: string;
    /** The request's identity at D1; absent, derived from this scheduled activity (the same on every attempt). */
    requestId?: string;
  }): Promise<OperationAccepted> {
    return withTypedFailures(() => {
      const requestId = updateOrderRequestId(card.requestId);
      return withHeartbeat((signal) =>
        d1.updateOrder(card.issuerId, card.cardId, { type: 'CANCEL' }, { signal, requestId }),
      );
    });
  };
}
