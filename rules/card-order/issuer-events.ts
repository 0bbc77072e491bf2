/**
 * The order's lifecycle events for the issuer: which status change is which event, and the pending events the
 * workflow delivers (before the outbox; the outbox's own back-off is `issuer-outbox.ts`).
 *
 * @module
 */
import type { CardOrderStatus } from '../contracts/card-order.js';
import { iso, type IssuerEventType, type OrderMachineState } from './order-machine.js';

export const eventTypes: Partial<Record<CardOrderStatus, IssuerEventType>> = {
  SUBMITTED: 'submitted',
  SHIPPED: 'shipped',
  D1_UNREACHABLE: 'd1-unreachable',
  CANCELLED: 'cancelled',
  COMPENSATED: 'compensated',
  FAILED: 'failed',
  RETURNED: 'returned',
};

export function publish(s: OrderMachineState, type: IssuerEventType, now: number): void {
  if (!s.events.publish) return;
  s.events.sequence += 1;
  s.events.pending.push({
    eventId: `${s.workflowId}:${s.events.sequence}`,
    type,
    status: s.status,
    occurredAt: iso(now),
  });
}

export function onEventsPublished(s: OrderMachineState, eventIds: readonly string[]): void {
  s.events.pending = s.events.pending.filter((event) => !eventIds.includes(event.eventId));
}
