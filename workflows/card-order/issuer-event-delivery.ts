/**
 * The order's issuer events, as its workflow sends them at the end of each task (which events, and what a delivery's
 * end does to them: `shell-rules.ts`). Before the outbox, each batch goes in a local activity of its own. The outbox
 * (behaviour `weeks`) sends one delivery at a time and, when the order closes, leaves what the issuer never confirmed
 * to a dead-letter record.
 *
 * @module
 */
import { condition, log, metricMeter, ParentClosePolicy, startChild } from '@temporalio/workflow';
import { cardOrderWorkflowId } from '../../orders/workflow-id.js';
import { behaves } from '../../rules/card-order/behaviour.js';
import { outboxFinalAttempt, takeUndelivered } from '../../rules/card-order/issuer-outbox.js';
import type { OrderMachineState } from '../../rules/card-order/order-machine.js';
import { issuerEventsToSend, issuerEventsWithOrder, onIssuerEventsSent } from '../../rules/card-order/shell-rules.js';
import {
  ISSUER_EVENTS_DEAD_LETTER_WORKFLOW,
  issuerEventsDeadLetterId,
} from '../../rules/contracts/issuer-events-dead-letter.js';
import { cardIdKey, issuerIdKey } from '../../rules/contracts/search-attributes.js';
import type { WorkflowClock } from '../workflow-clock.js';
import { deliverIssuerEvents, publishIssuerEvents, stepFailure } from './order-activities.js';

export interface IssuerEventDelivery {
  /** Sends what is due; a delivery's end wakes the loop. */
  send(): void;
  /** Ids of the events whose delivery is under way. */
  inFlight(): number;
  /** The order closes: resolves once every event was delivered, or (the outbox) handed to the dead-letter record. */
  close(): Promise<void>;
}

export function issuerEventDelivery(
  s: OrderMachineState,
  clock: WorkflowClock,
  wakeUp: () => void,
): IssuerEventDelivery {
  const publishing = new Set<string>();
  const outbox = behaves(s, 'weeks');

  function send(): void {
    const batch = issuerEventsToSend(s, publishing, clock.now());
    if (batch.length === 0) return;
    const ids = batch.map((event) => event.eventId);
    for (const id of ids) publishing.add(id);
    if (!outbox) {
      let failed: { code: string | undefined } | undefined;
      publishIssuerEvents(issuerEventsWithOrder(s, batch))
        .catch((err: unknown) => {
          log.error('Issuer events not delivered', { eventIds: ids, err });
          failed = { code: stepFailure(err).code };
        })
        .finally(() => {
          onIssuerEventsSent(s, ids, failed, clock.now());
          for (const id of ids) publishing.delete(id);
          wakeUp();
        });
      return;
    }
    // Oldest first, one delivery at a time: the issuer gets them in order.
    deliverIssuerEvents(issuerEventsWithOrder(s, batch))
      .then(
        () => onIssuerEventsSent(s, ids, undefined, clock.now()),
        (err: unknown) => {
          const failed = stepFailure(err);
          if (!s.events.outbox)
            log.warn('Issuer events not delivered; the order tries again later', { code: failed.code });
          onIssuerEventsSent(s, ids, failed, clock.now());
        },
      )
      .finally(() => {
        publishing.clear();
        wakeUp();
      });
  }

  /**
   * The order closes: a delivery under way ends, one last one goes, and what the issuer still has not confirmed goes
   * to the order's dead-letter record, for an operator to redeliver (`card-orders events redeliver`).
   */
  async function closeOutbox(): Promise<void> {
    await condition(() => publishing.size === 0);
    outboxFinalAttempt(s.events);
    send();
    await condition(() => publishing.size === 0);
    if (s.events.pending.length === 0) return;
    const lastFailure = s.events.outbox?.lastFailure;
    const events = issuerEventsWithOrder(s, takeUndelivered(s.events));
    // From the order's own ids, not workflowInfo(): a replay of a downloaded history runs under another id.
    const orderWorkflowId = cardOrderWorkflowId(s.issuerId, s.issuerRequestId);
    try {
      await startChild(ISSUER_EVENTS_DEAD_LETTER_WORKFLOW, {
        workflowId: issuerEventsDeadLetterId(orderWorkflowId),
        args: [{ orderWorkflowId, issuerId: s.issuerId, cardId: s.cardId, events, lastFailure }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: issuerIdKey, value: s.issuerId },
          { key: cardIdKey, value: s.cardId },
        ],
      });
      metricMeter
        .createCounter('card_order_issuer_events_dead_lettered', 'events', 'Issuer events an order closed without')
        .add(events.length);
      log.warn('Issuer events not delivered by the time the order closed; kept for an operator', {
        count: events.length,
        lastFailure,
      });
    } catch (err) {
      // Only a record already under that id can refuse: the events are kept there.
      log.error('The dead-letter record of issuer events could not be started', { err });
    }
  }

  return {
    send,
    inFlight: () => publishing.size,
    // Not an async function: the caller awaits the very promise (no extra turn of the microtask queue).
    close: () => (outbox ? closeOutbox() : condition(() => s.events.pending.length === 0 && publishing.size === 0)),
  };
}
