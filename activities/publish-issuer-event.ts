import { FlattenedSign } from 'jose';
import { request } from 'undici';
import { IssuerEventDeliveryError } from '../common/errors.js';
import type { KeyWithId } from '../d1/keys.js';
import type { OrderState } from '../workflows/definitions.js';
import { withTypedFailures } from './failures.js';

export type IssuerEventType = 'submitted' | 'status-changed' | 'shipped' | 'failed' | 'compensated' | 'cancelled';

export interface IssuerEvent {
  /** Stable across redeliveries, so the receiver can deduplicate. */
  eventId: string;
  type: IssuerEventType;
  occurredAt: string;
  /** The order's state: identifiers and statuses, no PII. */
  order: OrderState;
}

export interface IssuerEventsTarget {
  url: string;
  signingKey: KeyWithId;
  timeoutMs: number;
}

/**
 * Posts one lifecycle event to the issuer as a flattened JWS (JSON, ES256, `kid`). Any non-2xx answer is retried
 * by Temporal until the issuer accepts it: delivery is at least once.
 */
export function createPublishIssuerEvent(target: IssuerEventsTarget | undefined) {
  return function publishIssuerEvent(event: IssuerEvent): Promise<void> {
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
  };
}
