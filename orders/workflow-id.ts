/**
 * The workflow id of a card order: the order's identity in Temporal, derived from the issuer's own ids so that a
 * placement repeated anywhere finds the same workflow. Pure and free of zod: the workflow itself derives it too.
 *
 * @module
 */

/** `card-order:{issuerId}:{issuerRequestId}`. */
export function cardOrderWorkflowId(issuerId: string, issuerRequestId: string): string {
  return `card-order:${issuerId}:${issuerRequestId}`;
}
