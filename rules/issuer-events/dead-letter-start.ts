/**
 * What a dead-letter record of issuer events accepts as its start: pure, so the workflow refuses a malformed start
 * before it keeps anything, and tests check the rule alone.
 *
 * @module
 */
import type {
  IssuerEventsDeadLetterInput,
  IssuerEventsDeadLetterOptions,
} from '../contracts/issuer-events-dead-letter.js';

function isPositive(value: number | undefined): boolean {
  return value === undefined || (Number.isFinite(value) && value > 0);
}

/** Why the record could not serve this start (checked before it keeps anything), or undefined when it can. */
export function deadLetterStartProblem(
  input: IssuerEventsDeadLetterInput,
  options: IssuerEventsDeadLetterOptions,
): string | undefined {
  if (!input?.orderWorkflowId || !input.issuerId || !input.cardId || !Array.isArray(input.events)) {
    return 'orderWorkflowId, issuerId, cardId and events are required';
  }
  const malformed = input.events.findIndex(
    (event) =>
      typeof event?.eventId !== 'string' || typeof event.type !== 'string' || typeof event.occurredAt !== 'string',
  );
  if (malformed >= 0) return `events[${malformed}] needs eventId, type and occurredAt`;
  if (!isPositive(options.retentionMs)) return 'retentionMs must be a positive number';
  const retry = options.redeliveryRetry;
  if (
    retry &&
    !(Number.isInteger(retry.maximumAttempts) && retry.maximumAttempts > 0 && isPositive(retry.initialIntervalMs))
  ) {
    return 'redeliveryRetry needs a positive whole maximumAttempts and a positive initialIntervalMs';
  }
  return undefined;
}
