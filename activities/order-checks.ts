/**
 * The checks an order passes before it goes to D1: at placement (`checkOrder`) and when an accepted order is sent
 * again (`checkAcceptedOrder`).
 *
 * @module
 */
import { describeIssues } from '../common/zod-issues.js';
import { issuerRequestIdSchema } from '../d1/schemas.js';
import { OrderValidationError, ReorderIdError } from '../orders/errors.js';
import { checkOrderAgainstCatalog, type ProgramCatalog } from '../orders/program-catalog.js';
import { acceptedCardOrderSchema, cardOrderSchema, type CardOrder } from '../orders/schema.js';

/**
 * The order, checked against its schema and its program: the checks of placement.
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

/**
 * The order accepted at placement, to be sent again under `reorderRequestId` (a re-order or a re-ship): D1's rules
 * for the body only. No program check (the program may have changed since, and the order was placed under it) and
 * no rule reserved for original ids (first-generation orders predate it).
 *
 * @throws {ReorderIdError} when `reorderRequestId` is no D1 issuerRequestId (an original too long for the suffix).
 * @throws {OrderValidationError} naming every field that breaks D1's rules (e.g. a re-ship's new address).
 */
export function checkAcceptedOrder(order: unknown, reorderRequestId: string): CardOrder {
  const parsed = acceptedCardOrderSchema.safeParse(order);
  if (!parsed.success) throw new OrderValidationError(describeIssues(parsed.error));
  const id = issuerRequestIdSchema.safeParse(reorderRequestId);
  if (!id.success) {
    const reasons = describeIssues(id.error).map((issue) => issue.reason);
    throw new ReorderIdError(parsed.data.issuerRequestId, reorderRequestId, reasons.join('; '));
  }
  return parsed.data;
}
