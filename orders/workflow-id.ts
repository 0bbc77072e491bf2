/**
 * The workflow ids of a card order and of a campaign. A card order's id is its identity in Temporal, derived from the issuer's own ids so that a
 * placement repeated anywhere finds the same workflow. Pure and free of zod: the workflow itself derives it too.
 *
 * @module
 */

/** `card-order:{issuerId}:{issuerRequestId}`. */
export function cardOrderWorkflowId(issuerId: string, issuerRequestId: string): string {
  return `card-order:${issuerId}:${issuerRequestId}`;
}

/** `campaign:{issuerId}:{campaignId}`: a campaign's cards report to it there. */
export function campaignWorkflowId(issuerId: string, campaignId: string): string {
  return `campaign:${issuerId}:${campaignId}`;
}
