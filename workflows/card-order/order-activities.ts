/**
 * The card order's activities as its workflow calls them (time limits and retries by kind of call), and what an
 * activity's failure tells the order's machine.
 *
 * @module
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { CardOrderActivities } from '../../activities/index.js';
import type { StepFailure } from '../../rules/card-order/order-machine.js';
import { activityApplicationFailure } from '../activity-failure.js';

/** D1 calls that must succeed (submit, cancel, compensation): retried, transient failures only, for a while. */
export function mustSucceedActivities(retryTimeoutMs: number) {
  return proxyActivities<CardOrderActivities>({
    startToCloseTimeout: '1m',
    // A worker that dies mid-call is noticed in seconds, and a cancel reaches the activity.
    heartbeatTimeout: '20s',
    scheduleToCloseTimeout: retryTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
  });
}

/** A poll is a fallback: a few quick tries, then the order tries again at its next planned poll. */
export const { pollOrderStatus } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '20s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumAttempts: 2 },
});

/** Runs from before the outbox: issuer events delivered at least once, for up to a day, as a local activity. */
export const { publishIssuerEvents } = proxyLocalActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '24h',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
});

/**
 * The outbox's delivery (behaviour `weeks`): a few quick tries in one activity; past them the order waits on its
 * timer and tries again (issuer-outbox.ts), so a long outage of the issuer's endpoint costs a few events a day.
 */
export const { publishIssuerEvents: deliverIssuerEvents } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '2m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 4 },
});

/**
 * What an activity's failure tells the machine. Our activities fail non-retryable on a permanent answer; anything
 * else reaching the workflow (the call's time limit ran out while it retried 5xx, 429, timeouts or auth) is
 * transient: D1 may answer later.
 */
export function stepFailure(err: unknown): StepFailure {
  const cause = activityApplicationFailure(err);
  if (!cause) return { code: undefined, transient: true };
  const details = cause.details?.[0] as { d1ErrorCode?: unknown } | undefined;
  return {
    code: cause.type ?? undefined,
    d1ErrorCode: typeof details?.d1ErrorCode === 'string' ? details.d1ErrorCode : undefined,
    transient: !cause.nonRetryable,
  };
}
