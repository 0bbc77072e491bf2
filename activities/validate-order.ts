import { OrderValidationError } from '../common/errors.js';
import { describeIssues } from '../d1/schemas.js';
import { checkOrderAgainstCatalog, type ProgramCatalog } from '../orders/program-catalog.js';
import { cardOrderSchema, type CardOrder } from '../orders/schema.js';
import { withTypedFailures } from './failures.js';

/**
 * The order, checked against its schema and its program.
 *
 * @throws {OrderValidationError} naming every offending field.
 */
export function checkOrder(order: unknown, catalog: ProgramCatalog): CardOrder {
  const parsed = cardOrderSchema.safeParse(order);
  if (!parsed.success) throw new OrderValidationError(describeIssues(parsed.error));
  const issues = checkOrderAgainstCatalog(parsed.data, catalog);
  if (issues.length > 0) throw new OrderValidationError(issues);
  return parsed.data;
}

/** First-generation orders' validation step (new orders are checked by the client and by `submitOrder`). */
export function createValidateOrder(catalog: ProgramCatalog) {
  return function validateOrder(order: CardOrder): Promise<void> {
    return withTypedFailures(() => {
      checkOrder(order, catalog);
      return Promise.resolve();
    });
  };
}
