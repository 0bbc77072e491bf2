/**
 * The dead-letter record of an order's undelivered issuer events: its id, input, view, and the redelivery
 * update.
 *
 * @module
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { OrderState } from './card-order.js';

/**
 * The dead-letter record of one order's issuer events: what the order's outbox had not delivered when the order
 * closed. The order starts it (a child it abandons) under {@link issuerEventsDeadLetterId}; it keeps the events until an
 * operator redelivers them (`card-orders events redeliver`) or its retention ends.
 */
export const ISSUER_EVENTS_DEAD_LETTER_WORKFLOW = 'issuerEventsDeadLetter';

/** The dead-letter record's workflow id: one per order, a form no card-order id takes. */
export function issuerEventsDeadLetterId(orderWorkflowId: string): string {
  return `issuer-events-failed:${orderWorkflowId}`;
}

/** One undelivered issuer event, exactly as the outbox would have posted it (ids and statuses, no PII). */
export interface DeadLetterIssuerEvent {
  eventId: string;
  type: string;
  occurredAt: string;
  status?: string | undefined;
  order: Omit<OrderState, 'timeline'>;
}

export interface IssuerEventsDeadLetterInput {
  orderWorkflowId: string;
  issuerId: string;
  cardId: string;
  /** Oldest first: redelivery keeps the order's order. */
  events: DeadLetterIssuerEvent[];
  /** Why the outbox gave up on them (the last delivery failure's code), for the operator. */
  lastFailure?: string | undefined;
}

/** How long a dead-letter record keeps undelivered issuer events when its start does not say (90 days). */
export const DEFAULT_ISSUER_EVENTS_DEAD_LETTER_RETENTION_MS = 90 * 86_400_000;

/**
 * The dead-letter record's optional second argument. The order starts the record with its input alone (the
 * defaults); tests and operators starting one by hand may shorten its times. It also carries the record across
 * continue-as-new. A second argument rather than new fields of {@link IssuerEventsDeadLetterInput}, which is the
 * order's contract.
 */
export interface IssuerEventsDeadLetterOptions {
  /** How long the record keeps events nobody redelivered before it ends EXPIRED, from its first start. */
  retentionMs?: number | undefined;
  /** Each event's tries per redelivery (default 4 tries, 5 s apart and doubling: about 35 s). */
  redeliveryRetry?: { maximumAttempts: number; initialIntervalMs: number } | undefined;
  /** What the previous run of this record knew (continue-as-new). */
  carried?: IssuerEventsDeadLetterCarried | undefined;
}

export interface IssuerEventsDeadLetterCarried {
  /** When the record was first started (ISO 8601). */
  createdAt: string;
  /** When the retention ends (epoch ms): each run sleeps what is left of it. */
  retentionEndsAt: number;
  /** Events redelivered in earlier runs. */
  delivered: number;
  redeliveries: number;
  lastRedeliveryAt: string | undefined;
}

/**
 * Where the record stands: PENDING (events kept), REDELIVERING (a redelivery posts them now), DELIVERED (all
 * redelivered: the record ends), EXPIRED (the retention ended with events undelivered: the record ends, the events
 * are in its result).
 */
export type IssuerEventsDeadLetterStatus = 'PENDING' | 'REDELIVERING' | 'DELIVERED' | 'EXPIRED';

/** The record as its query and its result show it: ids, types, dates, statuses; the order snapshots hold no PII. */
export interface IssuerEventsDeadLetterView {
  orderWorkflowId: string;
  issuerId: string;
  cardId: string;
  status: IssuerEventsDeadLetterStatus;
  /** The events still undelivered, oldest first, as the order would have posted them. */
  events: DeadLetterIssuerEvent[];
  /** Events redelivered so far (every run). */
  delivered: number;
  redeliveries: number;
  /** The code of the last delivery failure: the outbox's, then the last redelivery's that failed. */
  lastFailure: string | undefined;
  lastRedeliveryAt: string | undefined;
  createdAt: string;
  retentionEndsAt: string;
}

/** The record's result: its last view, with status DELIVERED or EXPIRED. */
export type IssuerEventsDeadLetterResult = IssuerEventsDeadLetterView;

export const issuerEventsDeadLetterQuery = defineQuery<IssuerEventsDeadLetterView>('issuerEventsDeadLetter');

/** What one redelivery did: events posted now, events still kept, and why it stopped when some are. */
export interface RedeliverIssuerEventsResult {
  delivered: number;
  remaining: number;
  /** The failure's code (e.g. ERR_ISSUER_EVENT_DELIVERY) when `remaining` > 0. */
  lastFailure?: string | undefined;
}

/** Why the update's validator refuses a redelivery (the failure's `type`); nothing is written to history. */
export const redeliverIssuerEventsRefusals = {
  /** Every event was redelivered: the record is ending. */
  nothingLeft: 'NOTHING_TO_REDELIVER',
  /** The retention ended: the record is ending with its events in its result. */
  expired: 'DEAD_LETTER_EXPIRED',
} as const;

/**
 * Posts the kept events to the issuer, oldest first, each one once the one before it was taken, stopping at the
 * first the endpoint does not take; answers what it delivered and what is left. Redeliveries run one at a time. Once
 * nothing is left the record completes DELIVERED.
 */
export const redeliverIssuerEventsUpdate = defineUpdate<RedeliverIssuerEventsResult>('redeliverIssuerEvents');
