import type { D1Client } from '../../d1/client.js';
import type { ProductionStatusResponse } from '../../d1/report-schemas.js';
import { withHeartbeat } from '../heartbeat.js';
import { withTypedFailures } from '../failures.js';

/**
 * Polls D1 for every operation of the card; a card D1 does not know yet has none. First-generation (`cardOrder`)
 * runs only (`cardOrderV2` polls through `pollOrderStatus`), until they drain.
 */
export function createFetchOrderStatus(d1: D1Client) {
  return function fetchOrderStatus(card: { issuerId: string; cardId: string }): Promise<ProductionStatusResponse> {
    return withTypedFailures(() =>
      withHeartbeat(async (signal) => {
        try {
          return await d1.getProductionStatus(card.issuerId, card.cardId, { signal });
        } catch (err) {
          if ((err as { code?: string }).code === 'ERR_D1_NOT_FOUND') return { operations: [] };
          throw err;
        }
      }),
    );
  };
}
