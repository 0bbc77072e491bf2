/**
 * The D1 `issuerRequestId` of a re-order (a card D1 reported OUT_OF_STOCK is ordered again under a new id, since D1
 * returns the original order for a reused one). Derived ids take a form no original id can take: originals are at
 * most {@link MAX_ORIGINAL_REQUEST_ID_LENGTH} characters and never end in `--r<digits>`, so `{id}--r{n}` fits
 * D1's 64 characters, collides with nothing, and leads back to its order (the webhook routes by it). Pure: the
 * workflow, the order schema and the webhook share it.
 *
 * @module
 */

/** The most re-orders of one order; the suffix `--r10` is the longest. */
export const MAX_REORDERS = 10;
/** D1 allows 64 characters; the rest is reserved for the re-order suffix. */
export const MAX_ORIGINAL_REQUEST_ID_LENGTH = 64 - `--r${MAX_REORDERS}`.length;

const derived = /^(.+)--r([1-9]\d*)$/;

/** Why `issuerRequestId` cannot be an original order's id, or undefined when it can. */
export function reservedRequestIdProblem(issuerRequestId: string): string | undefined {
  if (issuerRequestId.length > MAX_ORIGINAL_REQUEST_ID_LENGTH) {
    return `must be at most ${MAX_ORIGINAL_REQUEST_ID_LENGTH} characters (the rest is reserved for re-orders)`;
  }
  if (/--r\d+$/.test(issuerRequestId)) return 'must not end in --r<digits>, the form reserved for re-orders';
  return undefined;
}

/** The request id of the `reorder`-th re-order (1-based) of the order `issuerRequestId`. */
export function reorderRequestId(issuerRequestId: string, reorder: number): string {
  if (!Number.isInteger(reorder) || reorder < 1 || reorder > MAX_REORDERS) {
    throw new RangeError(`reorder must be an integer from 1 to ${MAX_REORDERS}`);
  }
  return `${issuerRequestId}--r${reorder}`;
}

/** The original order's request id behind `issuerRequestId`: itself for an original, the base for a re-order. */
export function originalRequestId(issuerRequestId: string): string {
  return derived.exec(issuerRequestId)?.[1] ?? issuerRequestId;
}
