/**
 * The record of D1 notifications for a card with no running order: its input, what it keeps, and how an
 * operator releases them.
 *
 * @module
 */
import type { Operation } from '../../d1/report-schemas.js';
import { defineQuery, defineUpdate } from '@temporalio/workflow';

/** The workflow type of a card's record of unmatched notifications (the webhook starts it). */
export const UNMATCHED_NOTIFICATIONS_WORKFLOW = 'unmatchedNotifications';

/** Notifications D1 sent for a card with no running order, kept for a retention period. */
export interface UnmatchedNotificationsInput {
  issuerId: string;
  cardId: string;
  /** How long the record lives after the last notification, in ms. */
  retentionMs: number;
  /** What a previous run kept (continue-as-new). */
  kept?: UnmatchedNotification[];
}

export interface UnmatchedNotification {
  /** Workflow time it arrived (ISO 8601). */
  receivedAt: string;
  operation: Operation;
}

export const unmatchedNotificationsQuery = defineQuery<UnmatchedNotification[]>('unmatchedNotifications');

/** What an operator's redelivery handed on: the dedupe keys of the operations its card's order now has. */
export interface ReleaseUnmatchedRequest {
  keys: string[];
}

/** How many notifications the record still keeps after a release; at 0 the record ends. */
export interface ReleaseUnmatchedResult {
  remaining: number;
}

/** Drops the notifications an operator redelivered to the card's order; the record ends once none remain. */
export const releaseUnmatchedUpdate = defineUpdate<ReleaseUnmatchedResult, [ReleaseUnmatchedRequest]>(
  'releaseUnmatched',
);
