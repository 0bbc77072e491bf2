/**
 * Turns a caller's order request into what a card-order workflow starts with: validated against the order schema
 * and the program catalog, fingerprinted, and its clear card data encrypted into D1's JWE, so that the workflow (and
 * Temporal's history) never sees a clear value. Single orders and campaign lines both go through here.
 *
 * @module
 */
import type { z } from 'zod';
import { OrderValidationError } from '../orders/errors.js';
import { describeIssues } from '../common/zod-issues.js';
import { encryptSensitiveData } from '../d1/sensitive-data.js';
import type { OrderFingerprint } from '../orders/fingerprint.js';
import { checkOrderAgainstCatalog } from '../orders/program-catalog.js';
import { cardOrderRequestSchema, type CardOrder, type CardOrderRequest } from '../orders/schema.js';
import type { ClientContext } from './client-context.js';

export type ParsedTimings = z.output<typeof cardOrderRequestSchema>['timings'];

export interface PreparedOrder {
  order: CardOrder;
  timings: ParsedTimings;
  fingerprint: OrderFingerprint;
}

/**
 * Validates the request and turns clear card data into D1's JWE; the workflow never sees clear values.
 *
 * @throws {OrderValidationError} naming every invalid field.
 */
export async function prepareOrder(ctx: ClientContext, request: CardOrderRequest): Promise<PreparedOrder> {
  const parsed = cardOrderRequestSchema.safeParse(request);
  if (!parsed.success) throw new OrderValidationError(describeIssues(parsed.error));
  const { sensitiveData, encryptedData, timings, ...rest } = parsed.data;
  const issues = checkOrderAgainstCatalog(rest, ctx.catalog);
  if (issues.length > 0) throw new OrderValidationError(issues);
  // Clear card data is fingerprinted as given (each JWE of it differs); a ready JWE, as that JWE.
  const fingerprint = ctx.fingerprintKey.fingerprint({ ...rest, sensitiveData, encryptedData });
  const jwe = encryptedData ?? (await encryptSensitiveData(sensitiveData, ctx.encryptionKey));
  return { order: { ...rest, encryptedData: jwe }, timings, fingerprint };
}
