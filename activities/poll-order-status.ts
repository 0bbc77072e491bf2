import type { D1Client } from '../d1/client.js';
import type { Operation } from '../d1/report-schemas.js';
import { withHeartbeat } from './heartbeat.js';
import { withTypedFailures } from './failures.js';

export interface PollOrderStatusInput {
  issuerId: string;
  cardId: string;
  /** The PRODUCE operation the order tracks. */
  operationId: string;
  /** Our Pull & change requests still waiting for D1's verdict. */
  changeIds: string[];
}

/**
 * Polls D1's status endpoint for the card and keeps only what concerns this order: its PRODUCE operation and the
 * verdicts on its pending Pull & change requests. The rest of the card's operations (earlier orders, other
 * systems' requests) never reaches history. A card D1 does not know yet has none.
 */
export function createPollOrderStatus(d1: D1Client) {
  return function pollOrderStatus(input: PollOrderStatusInput): Promise<{ operations: Operation[] }> {
    return withTypedFailures(() =>
      withHeartbeat(async (signal) => {
        let operations: Operation[];
        try {
          ({ operations } = await d1.getProductionStatus(input.issuerId, input.cardId, { signal }));
        } catch (err) {
          if ((err as { code?: string }).code === 'ERR_D1_NOT_FOUND') return { operations: [] };
          throw err;
        }
        return {
          operations: operations.filter(
            (op) =>
              (op.operation === 'PRODUCE' && op.operationId === input.operationId) ||
              (op.operation === 'UPDATE_ORDER' && input.changeIds.includes(op.operationId)),
          ),
        };
      }),
    );
  };
}
