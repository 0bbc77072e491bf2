/**
 * Ids a caller passes to the client library before they reach a visibility query or a workflow id, checked against
 * D1's formats and named by field, never echoed.
 *
 * @module
 */
import { z } from 'zod';
import { cardIdSchema, issuerIdSchema, issuerRequestIdSchema } from '../d1/schemas.js';

/** `card-order:{issuerId}:{issuerRequestId}`, as `cardOrderWorkflowId` builds it. */
const orderWorkflowIdSchema = z
  .string()
  .max(100)
  .refine((value) => {
    const [prefix, issuerId, issuerRequestId, ...rest] = value.split(':');
    return (
      prefix === 'card-order' &&
      rest.length === 0 &&
      issuerIdSchema.safeParse(issuerId).success &&
      issuerRequestIdSchema.safeParse(issuerRequestId).success
    );
  });

const formats = {
  issuer: { schema: issuerIdSchema, reason: 'must be a D1 issuer id (10 characters: A-Z, a-z, 0-9, _ and -)' },
  card: { schema: cardIdSchema, reason: 'must be a D1 card id (letters, digits, _ and -)' },
  /** Ours, in the same alphabet: it is part of workflow ids and store paths. */
  campaign: { schema: cardIdSchema, reason: 'must be 1 to 48 letters, digits, _ and -' },
  orderWorkflow: {
    schema: orderWorkflowIdSchema,
    reason: "must be an order's workflow id, card-order:{issuerId}:{issuerRequestId}",
  },
} as const;

/** Why `value` is not a D1 id of `kind`, or undefined when it is one. */
export function idFormatReason(kind: keyof typeof formats, value: string): string | undefined {
  return formats[kind].schema.safeParse(value).success ? undefined : formats[kind].reason;
}

/** The issues of the given ids (absent ones pass), each named by its field. */
export function idIssues(
  ids: readonly { field: string; kind: keyof typeof formats; value: string | undefined }[],
): { field: string; reason: string }[] {
  return ids.flatMap(({ field, kind, value }) => {
    const reason = value === undefined ? undefined : idFormatReason(kind, value);
    return reason === undefined ? [] : [{ field, reason }];
  });
}
