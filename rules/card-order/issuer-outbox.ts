/**
 * The order's outbox of issuer events (behaviour `weeks`): events wait in the order's state, in order, until the
 * issuer's endpoint confirms them. A delivery that fails is tried again on the order's one timer, each wait twice
 * the last up to a cap of hours, for as long as the order lives; the outbox travels across continue-as-new with the
 * state, and what is still in it when the order closes goes to a dead-letter record. Pure: the workflow and tests
 * share it.
 *
 * @module
 */
import {
  DEFAULT_ISSUER_EVENT_MAX_INTERVAL_MS,
  DEFAULT_ISSUER_EVENT_RETRY_MS,
  type OrderTimings,
} from '../contracts/card-order.js';

/** The delivery state of the pending events; absent until a delivery first failed. */
export interface OutboxState {
  /** Failed deliveries in a row. */
  failures: number;
  /** When the next delivery may go; undefined: now. */
  retryAt: number | undefined;
  /** The last failure's code, for the dead-letter record. */
  lastFailure: string | undefined;
}

interface Events {
  pending: { eventId: string }[];
  outbox?: OutboxState | undefined;
}

/** Whether a delivery of the pending events may start now (none being under way is the caller's part). */
export function outboxDue(events: Events, now: number): boolean {
  const retryAt = events.outbox?.retryAt;
  return events.pending.length > 0 && (retryAt === undefined || now >= retryAt);
}

/** When the order must wake to deliver again; undefined when nothing waits or nothing is held back. */
export function outboxWakeAt(events: Events): number | undefined {
  return events.pending.length > 0 ? events.outbox?.retryAt : undefined;
}

/** The issuer confirmed `eventIds`: they leave the outbox, and the back-off starts over. */
export function onOutboxDelivered(events: Events, eventIds: readonly string[]): void {
  events.pending = events.pending.filter((event) => !eventIds.includes(event.eventId));
  events.outbox = undefined;
}

/** A delivery failed (after its activity's own quick retries): the next one waits. */
export function onOutboxFailed(
  events: Events,
  failure: string | undefined,
  timings: Pick<OrderTimings, 'issuerEventRetryMs' | 'issuerEventMaxIntervalMs'>,
  now: number,
): void {
  const failures = (events.outbox?.failures ?? 0) + 1;
  const first = timings.issuerEventRetryMs ?? DEFAULT_ISSUER_EVENT_RETRY_MS;
  const cap = timings.issuerEventMaxIntervalMs ?? DEFAULT_ISSUER_EVENT_MAX_INTERVAL_MS;
  const wait = Math.min(first * 2 ** Math.min(failures - 1, 30), cap);
  events.outbox = { failures, retryAt: now + wait, lastFailure: failure ?? events.outbox?.lastFailure };
}

/** The order closes: one last delivery may go at once, whatever the back-off said. */
export function outboxFinalAttempt(events: Events): void {
  if (events.outbox) events.outbox.retryAt = undefined;
}

/** What goes to the dead-letter record: every event still pending, which leaves the outbox. */
export function takeUndelivered<T extends Events>(events: T): T['pending'] {
  const undelivered = events.pending;
  events.pending = [];
  return undelivered;
}
