/**
 * When an order polls D1's status endpoint, the fallback for notifications that are late or lost. Real production
 * takes days between stages, so polls back off: the first comes `notificationTimeoutMs` after the last news from
 * D1, the next `pollIntervalMs` later, then each interval doubles up to `pollMaxIntervalMs`. While D1's estimated
 * shipment date lies ahead the order expects no shipment before it: it polls at the cap, and once at that date.
 * Pure: the workflow and tests share it.
 *
 * @module
 */
import type { OrderTimings } from '../contracts/card-order.js';

export interface PollClock {
  /** When something last changed (submit, a report that changed the order, a Pull & change request). */
  lastNewsAt: number;
  /** Polls since then that found nothing new (or failed). */
  quietPolls: number;
  /** When the last poll ended. */
  lastPollAt: number | undefined;
}

type PollTimings = Pick<OrderTimings, 'notificationTimeoutMs' | 'pollIntervalMs' | 'pollMaxIntervalMs'>;

const DAY_MS = 86_400_000;

/**
 * D1's `dueDate` as epoch ms: for a plain date (D1's form, YYYY-MM-DD) the end of that day, UTC, since the card
 * may ship any time that day; a date-time as it is.
 */
export function dueDateMs(dueDate: string | undefined): number | undefined {
  if (dueDate === undefined) return undefined;
  const ms = Date.parse(dueDate);
  if (Number.isNaN(ms)) return undefined;
  return /^\d{4}-\d{2}-\d{2}$/.test(dueDate) ? ms + DAY_MS : ms;
}

/** The time of the next poll. `dueAt` is D1's estimated shipment date; leave it out to poll by back-off alone. */
export function nextPollAt(clock: PollClock, timings: PollTimings, dueAt?: number): number {
  const { notificationTimeoutMs, pollIntervalMs, pollMaxIntervalMs } = timings;
  const quiet = clock.quietPolls === 0 || clock.lastPollAt === undefined;
  const from = quiet ? clock.lastNewsAt : (clock.lastPollAt ?? clock.lastNewsAt);
  const interval = quiet
    ? notificationTimeoutMs
    : Math.min(pollIntervalMs * 2 ** Math.min(clock.quietPolls - 1, 40), pollMaxIntervalMs);
  const backOff = from + Math.min(interval, Math.max(pollMaxIntervalMs, notificationTimeoutMs));
  if (dueAt === undefined || dueAt <= from) return backOff;
  // Before the expected date: aim a poll at it, and poll no more often than the cap until then.
  return dueAt < backOff ? dueAt : Math.max(backOff, Math.min(dueAt, from + pollMaxIntervalMs));
}
