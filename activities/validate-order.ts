import { OrderValidationError } from '../common/errors.js';
import { describeIssues } from '../d1/schemas.js';
import { checkOrderAgainstCatalog, type ProgramCatalog } from '../orders/program-catalog.js';
import { cardOrderSchema, type CardOrder } from '../orders/schema.js';
import { withTypedFailures } from './failures.js';

/** Checks the order's shape and that it fits its program; names every offending field. */
export function createValidateOrder(catalog: ProgramCatalog) {
  return function validateOrder(order: CardOrder): Promise<void> {
    return withTypedFailures(() => {
      const parsed = cardOrderSchema.safeParse(order);
      if (!parsed.success) throw new OrderValidationError(describeIssues(parsed.error));
      const issues = checkOrderAgainstCatalog(parsed.data, catalog);
      if (issues.length > 0) throw new OrderValidationError(issues);
      return Promise.resolve();
    });
  };
}
