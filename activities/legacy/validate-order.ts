import type { ProgramCatalog } from '../../orders/program-catalog.js';
import type { CardOrder } from '../../orders/schema.js';
import { withTypedFailures } from '../failures.js';
import { checkOrder } from '../order-checks.js';

/** First-generation orders' validation step (new orders are checked by the client and by `submitOrder`). */
export function createValidateOrder(catalog: ProgramCatalog) {
  return function validateOrder(order: CardOrder): Promise<void> {
    return withTypedFailures(() => {
      checkOrder(order, catalog);
      return Promise.resolve();
    });
  };
}
