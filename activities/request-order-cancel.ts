import { Context } from '@temporalio/activity';
import type { D1Client } from '../d1/client.js';
import type { OperationAccepted } from '../d1/schemas.js';
import { withTypedFailures } from './failures.js';

/** Asks D1 to cancel the card's order (Pull & change); D1's verdict arrives later as an UPDATE_ORDER report. */
export function createRequestOrderCancel(d1: D1Client) {
  return function requestOrderCancel(card: { issuerId: string; cardId: string }): Promise<OperationAccepted> {
    return withTypedFailures(() =>
      d1.updateOrder(card.issuerId, card.cardId, { type: 'CANCEL' }, { signal: Context.current().cancellationSignal }),
    );
  };
}
