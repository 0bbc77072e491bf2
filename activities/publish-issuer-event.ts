import { FlattenedSign } from 'jose';
import { request } from 'undici';
import { IssuerEventDeliveryError } from '../common/errors.js';
import type { KeyWithId } from '../d1/keys.js';
import type { IssuerEventType } from '../rules/card-order/order-machine.js';
import type { CardOrderStatus, OrderState } from '../rules/contracts/card-order.js';
import type { OrderStateV1 } from '../rules/legacy/definitions-v1.js';
import { withTypedFailures } from './failures.js';

export type { IssuerEventType };

export interface IssuerEvent {
  /** Stable across redeliveries, so the receiver can deduplicate. */
  eventId: string;
  type: IssuerEventType;
  occurredAt: string;
  /** The status the order moved to (absent in first-generation orders' events). */
  status?: CardOrderStatus;
  /** The order's state when the event went out: identifiers and statuses, no PII. */
  order: Omit<OrderState, 'timeline'> | OrderStateV1;
}

/** What the publisher needs of any event it posts: lifecycle events, and the reconciliation's findings. */
export interface IssuerEventEnvelope {
  eventId: string;
  type: string;
  occurredAt: string;
}

export interface IssuerEventsTarget {
  url: string;
  signingKey: KeyWithId;
  timeoutMs: number;
}

/**
 * Posts a task's lifecycle events to the issuer, in order, each as {@link postIssuerEvent} does. Meant
 * to run as a local activity: a retry re-posts them all, and the receiver deduplicates by event id.
 *
 * `requireEndpoint`: fail (retryably, ERR_ISSUER_EVENT_DELIVERY) on a worker without ISSUER_EVENTS_URL instead of
 * posting nothing. A redelivery of dead-lettered events asks it: it drops what it counts as delivered.
 */
export function createPublishIssuerEvents(target: IssuerEventsTarget | undefined) {
  return async function publishIssuerEvents(
    events: (IssuerEvent | IssuerEventEnvelope)[],
    options: { requireEndpoint?: boolean } = {},
  ): Promise<void> {
    if (!target && options.requireEndpoint) {
      await withTypedFailures(() =>
        Promise.reject(new IssuerEventDeliveryError('This worker has no issuer event endpoint (ISSUER_EVENTS_URL)')),
      );
    }
    for (const event of events) await postIssuerEvent(target, event);
  };
}

/**
 * Posts one event to the issuer as a flattened JWS (JSON, ES256, `kid`). Any non-2xx answer is retried
 * by Temporal until the issuer accepts it: delivery is at least once. Nothing is posted without a target.
 */
export function postIssuerEvent(
  target: IssuerEventsTarget | undefined,
  event: IssuerEvent | IssuerEventEnvelope,
): Promise<void> {
  return withTypedFailures(async () => {
    if (!target) return;
    const jws = await new FlattenedSign(new TextEncoder().encode(JSON.stringify(event)))
      .setProtectedHeader({ alg: 'ES256', kid: target.signingKey.kid, typ: 'card-order-event+jwt' })
      .sign(target.signingKey.key);
    let status: number;
    try {
      const response = await request(target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-event-id': event.eventId },
        body: JSON.stringify(jws),
        signal: AbortSignal.timeout(target.timeoutMs),
      });
      status = response.statusCode;
      await response.body.dump();
    } catch (err) {
      throw new IssuerEventDeliveryError(`The issuer event endpoint did not answer (${(err as Error).name})`);
    }
    if (status < 200 || status >= 300) {
      throw new IssuerEventDeliveryError(`The issuer event endpoint answered ${status}`);
    }
  });
}
