/**
 * Our typed errors crossing into Temporal: an `ApplicationFailure` whose `type` is the stable code, non-retryable
 * when the error is permanent, and with D1's Retry-After as the next retry delay. Message and details carry codes
 * and statuses only, never card data (they land in history, encrypted by the codec all the same).
 *
 * @module
 */
import { ApplicationFailure, log } from '@temporalio/activity';
import { isCardOrderError } from '../common/errors.js';

export function toApplicationFailure(err: unknown): unknown {
  if (!isCardOrderError(err)) return err;
  // The alert: retried all the same, but a person has to fix it (e.g. D1 refuses our credentials).
  if (err.needsOperator)
    log.error('D1 refused our credentials or permission; an operator must act', { code: err.code });
  const retryAfterMs = err.code === 'ERR_D1_RATE_LIMITED' ? (err as { retryAfterMs?: number }).retryAfterMs : undefined;
  return ApplicationFailure.create({
    message: err.message,
    type: err.code,
    nonRetryable: !err.retryable,
    details: [err.toJSON()],
    ...(retryAfterMs !== undefined && { nextRetryDelay: retryAfterMs }),
  });
}

/** Runs an activity body, turning our errors into Temporal failures. */
export async function withTypedFailures<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw toApplicationFailure(err);
  }
}
