/**
 * The durable record of D1 notifications that match no running order (an order placed outside this system, or a
 * late duplicate after the order ended): one workflow per card, started by the webhook with signal-with-start,
 * queryable, and ended once no notification arrived for the retention period, or once an operator redelivered all
 * it kept to the card's order (`releaseUnmatched`).
 *
 * @module
 */
import { condition, continueAsNew, patched, setHandler, workflowInfo, allHandlersFinished } from '@temporalio/workflow';
import { d1NotificationSignal } from '../rules/contracts/card-order.js';
import {
  releaseUnmatchedUpdate,
  unmatchedNotificationsQuery,
  type UnmatchedNotification,
  type UnmatchedNotificationsInput,
} from '../rules/contracts/unmatched-notifications.js';
import { dedupeKey } from '../rules/card-order/production-tracking.js';

/** The patch behind waiting out the retention on one timer per period instead of a timer per notification. */
const ONE_TIMER = 'unmatched-one-timer';

/** Keeps the newest ones when a card gets more than this; older ones are in the history of earlier runs. */
const MAX_KEPT = 500;

export async function unmatchedNotifications(input: UnmatchedNotificationsInput): Promise<UnmatchedNotification[]> {
  const kept: UnmatchedNotification[] = input.kept ?? [];
  const oneTimer = patched(ONE_TIMER);
  let received = 0;
  let lastReceivedAt = Date.now();
  setHandler(d1NotificationSignal, ({ operations }) => {
    lastReceivedAt = Date.now();
    const receivedAt = new Date().toISOString();
    // D1 redelivers (and the webhook's 503 invites it): a report already kept is kept once.
    const seen = new Set(kept.map((entry) => dedupeKey(entry.operation)));
    for (const operation of operations) {
      if (!seen.has(dedupeKey(operation))) kept.push({ receivedAt, operation });
      seen.add(dedupeKey(operation));
    }
    if (kept.length > MAX_KEPT) kept.splice(0, kept.length - MAX_KEPT);
    received += operations.length;
  });
  setHandler(unmatchedNotificationsQuery, () => kept);
  let releases = 0;
  setHandler(releaseUnmatchedUpdate, ({ keys }) => {
    const delivered = new Set(keys);
    const remaining = kept.filter((entry) => !delivered.has(dedupeKey(entry.operation)));
    kept.splice(0, kept.length, ...remaining);
    releases += 1;
    return { remaining: kept.length };
  });
  // A notification arriving after the release keeps the record open.
  const released = () => releases > 0 && kept.length === 0;

  /** Ends the record, or continues it as new when its history grew long. */
  async function closeOrCarryOn(): Promise<UnmatchedNotification[] | undefined> {
    if (released()) {
      // Replies to the release go out with the completion.
      await condition(allHandlersFinished);
      return kept;
    }
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof unmatchedNotifications>({ ...input, kept });
    }
    return undefined;
  }

  while (oneTimer) {
    // One timer until the retention ends as known now; notifications meanwhile only move the end, read when it fires.
    await condition(released, Math.max(lastReceivedAt + input.retentionMs - Date.now(), 1));
    if (!released() && Date.now() >= lastReceivedAt + input.retentionMs) return kept;
    const ended = await closeOrCarryOn();
    if (ended) return ended;
  }
  // Records started before the patch: a new timer per notification, as they were recorded.
  for (;;) {
    const before = received;
    // Each new notification restarts the retention period.
    const renewed = await condition(() => received !== before || released(), input.retentionMs);
    if (released()) {
      // Replies to the release go out with the completion.
      await condition(allHandlersFinished);
      return kept;
    }
    if (!renewed) return kept;
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof unmatchedNotifications>({ ...input, kept });
    }
  }
}
