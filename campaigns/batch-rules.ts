/**
 * What D1's batch API asks of a campaign card, shared by ingestion (which refuses a line early) and the page
 * activity (which builds the batch item), so both judge a card by the same rule.
 *
 * @module
 */
import type { z } from 'zod';
import type { paymentApplicationSchema } from '../d1/schemas.js';
import type { ProgramCatalog } from '../orders/program-catalog.js';
import type { CardOrder } from '../orders/schema.js';

/** The reason given for a card without payment data, at ingestion and when its page is submitted. */
export const missingPaymentApplicationReason =
  "D1's batch API needs it: give it per card or in the card's program (catalog)";

/**
 * Whether the card goes to D1 in its page's batch; else it submits itself with a single-order call (issuers without
 * the batch API, and a card naming the card it replaces when D1_REPLACES_CARD_ID_FIELD is set: the batch item is strict).
 */
export function goesInBatch(
  submission: 'BATCH' | 'SINGLE',
  replacesCardIdField: string | undefined,
  order: Pick<CardOrder, 'replacesCardId'>,
): boolean {
  return submission === 'BATCH' && !(replacesCardIdField && order.replacesCardId);
}

/** The card's payment data for the batch: its own, else its program's; undefined when neither has it. */
export function batchPaymentApplication(
  order: Pick<CardOrder, 'paymentApplication' | 'cardProductId'>,
  catalog: ProgramCatalog,
): z.infer<typeof paymentApplicationSchema> | undefined {
  return order.paymentApplication ?? catalog.programs[order.cardProductId]?.paymentApplication;
}
