/**
 * The dead-letter record of one order's issuer events: what the order's outbox had not delivered when the order
 * closed. The order starts it as a child it abandons (`issuerEventsDeadLetterId`); the record keeps the events, shows
 * them through a query, and posts them again when an operator asks (`redeliverIssuerEvents` update). It completes
 * DELIVERED once every event went out, or EXPIRED when its retention ends first (the events are then in its result).
 *
 * Why it is shaped this way:
 * - One timer for the whole retention, started once per run for what is left of it: redeliveries add none.
 * - Each event is its own activity call, the next only once the one before it was taken: the issuer sees them in
 *   order, a redelivery stops at the first the endpoint refuses, and the record drops exactly what went out (a
 *   batch that failed half-way would count nothing and post the first ones again).
 * - Redeliveries run one at a time, and continue-as-new waits for them: no handler waits on the main loop.
 *
 * @module
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  metricMeter,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { CardOrderActivities } from '../activities/index.js';
import { deadLetterStartProblem } from '../rules/issuer-events/dead-letter-start.js';
import {
  DEFAULT_ISSUER_EVENTS_DEAD_LETTER_RETENTION_MS,
  issuerEventsDeadLetterQuery,
  redeliverIssuerEventsRefusals,
  redeliverIssuerEventsUpdate,
  type DeadLetterIssuerEvent,
  type IssuerEventsDeadLetterInput,
  type IssuerEventsDeadLetterOptions,
  type IssuerEventsDeadLetterResult,
  type IssuerEventsDeadLetterStatus,
  type IssuerEventsDeadLetterView,
  type RedeliverIssuerEventsResult,
} from '../rules/contracts/issuer-events-dead-letter.js';
import { activityApplicationFailure } from './activity-failure.js';

/** The failure type a malformed start ends with. */
const INPUT_INVALID = 'DEAD_LETTER_INPUT_INVALID';

/** A few tries over about half a minute: an operator is waiting for the answer, and can ask again. */
const DEFAULT_REDELIVERY_RETRY = { maximumAttempts: 4, initialIntervalMs: 5_000 };

function invalid(reason: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`Invalid dead-letter record start: ${reason}`, INPUT_INVALID);
}

/** Refuses a start the record could not serve, before it keeps anything. */
function checkStart(input: IssuerEventsDeadLetterInput, options: IssuerEventsDeadLetterOptions): void {
  const problem = deadLetterStartProblem(input, options);
  if (problem !== undefined) throw invalid(problem);
}

/** The code behind a failed post: our activity's typed failure, or the activity's time running out. */
function failureCode(err: unknown): string {
  return activityApplicationFailure(err)?.type || 'ERR_ISSUER_EVENT_DELIVERY';
}

export async function issuerEventsDeadLetter(
  input: IssuerEventsDeadLetterInput,
  options: IssuerEventsDeadLetterOptions = {},
): Promise<IssuerEventsDeadLetterResult> {
  checkStart(input, options);
  const retry = options.redeliveryRetry ?? DEFAULT_REDELIVERY_RETRY;
  const { publishIssuerEvents } = proxyActivities<CardOrderActivities>({
    startToCloseTimeout: '30s',
    retry: { initialInterval: retry.initialIntervalMs, backoffCoefficient: 2, maximumAttempts: retry.maximumAttempts },
  });
  // Created here, not at module scope: the meter belongs to the running workflow.
  const redeliveries = metricMeter.createCounter(
    'card_order_issuer_events_redeliveries',
    'redeliveries',
    'Redeliveries of dead-lettered issuer events, by outcome: delivered (none left) or remaining',
  );

  const startedAt = Date.now();
  const carried = options.carried ?? {
    createdAt: new Date(startedAt).toISOString(),
    retentionEndsAt: startedAt + (options.retentionMs ?? DEFAULT_ISSUER_EVENTS_DEAD_LETTER_RETENTION_MS),
    delivered: 0,
    redeliveries: 0,
    lastRedeliveryAt: undefined,
  };
  const record = { ...carried, lastFailure: input.lastFailure };
  const pending: DeadLetterIssuerEvent[] = [...input.events];
  let redelivering = false;
  let expired = startedAt >= record.retentionEndsAt;
  let ended: IssuerEventsDeadLetterStatus | undefined = undefined;

  const view = (): IssuerEventsDeadLetterView => ({
    orderWorkflowId: input.orderWorkflowId,
    issuerId: input.issuerId,
    cardId: input.cardId,
    status: ended ?? (redelivering ? 'REDELIVERING' : 'PENDING'),
    events: [...pending],
    delivered: record.delivered,
    redeliveries: record.redeliveries,
    lastFailure: record.lastFailure,
    lastRedeliveryAt: record.lastRedeliveryAt,
    createdAt: record.createdAt,
    retentionEndsAt: new Date(record.retentionEndsAt).toISOString(),
  });
  setHandler(issuerEventsDeadLetterQuery, view);

  setHandler(
    redeliverIssuerEventsUpdate,
    async (): Promise<RedeliverIssuerEventsResult> => {
      // One at a time: a second redelivery posts what the first left, never the same event alongside it.
      await condition(() => !redelivering);
      redelivering = true;
      const before = pending.length;
      let failure: string | undefined;
      try {
        while (pending.length > 0 && failure === undefined) {
          const [next] = pending as [DeadLetterIssuerEvent];
          try {
            await publishIssuerEvents([next], { requireEndpoint: true });
            pending.shift();
            record.delivered += 1;
          } catch (err) {
            if (isCancellation(err)) throw err;
            failure = failureCode(err);
          }
        }
      } finally {
        redelivering = false;
      }
      record.redeliveries += 1;
      record.lastRedeliveryAt = new Date().toISOString();
      if (failure !== undefined) record.lastFailure = failure;
      const delivered = before - pending.length;
      redeliveries.add(1, { outcome: pending.length === 0 ? 'delivered' : 'remaining' });
      log.info('Dead-lettered issuer events redelivered', {
        orderWorkflowId: input.orderWorkflowId,
        delivered,
        remaining: pending.length,
        failure,
      });
      return { delivered, remaining: pending.length, ...(failure !== undefined && { lastFailure: failure }) };
    },
    {
      // Refused here, nothing is written to history.
      validator: () => {
        if (expired) {
          throw ApplicationFailure.nonRetryable(
            'The retention of these events ended',
            redeliverIssuerEventsRefusals.expired,
          );
        }
        if (pending.length === 0 && !redelivering) {
          throw ApplicationFailure.nonRetryable(
            'Every event was redelivered',
            redeliverIssuerEventsRefusals.nothingLeft,
          );
        }
      },
    },
  );

  if (!expired) {
    void sleep(record.retentionEndsAt - startedAt).then(() => {
      expired = true;
    });
  }

  for (;;) {
    await condition(() => pending.length === 0 || expired || workflowInfo().continueAsNewSuggested);
    // A redelivery under way finishes (and answers) first; one started before the retention ended may still post.
    await condition(allHandlersFinished);
    if (pending.length === 0 || expired) break;
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof issuerEventsDeadLetter>(
        { ...input, events: [...pending], lastFailure: record.lastFailure },
        {
          ...options,
          carried: {
            createdAt: record.createdAt,
            retentionEndsAt: record.retentionEndsAt,
            delivered: record.delivered,
            redeliveries: record.redeliveries,
            lastRedeliveryAt: record.lastRedeliveryAt,
          },
        },
      );
    }
  }
  ended = pending.length === 0 ? 'DELIVERED' : 'EXPIRED';
  if (ended === 'EXPIRED') {
    metricMeter
      .createCounter(
        'card_order_issuer_events_expired',
        'events',
        'Dead-lettered issuer events nobody redelivered before the retention ended',
      )
      .add(pending.length);
    log.warn('Dead-lettered issuer events expired undelivered', {
      orderWorkflowId: input.orderWorkflowId,
      eventIds: pending.map((event) => event.eventId),
      lastFailure: record.lastFailure,
    });
  }
  return view();
}
