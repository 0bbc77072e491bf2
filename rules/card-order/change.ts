/**
 * Pull & change requests other than cancel (accelerate, redirect): queued, sent to D1 one at a time, answered by
 * D1's verdict (`settle.ts`).
 *
 * @module
 */
import { changeTypes, type ChangeRequest } from '../contracts/card-order.js';
import { cancelRefusal } from './cancel.js';
import type { OrderMachineState, StepFailure } from './order-machine.js';
import { restartPollClock } from './polling.js';
import { settle } from './settle.js';
import { failureReason, resolveChange } from './status.js';

/** Why a change cannot succeed now, as the update's refusal reason; undefined when it may. */
export function changeRefusal(s: OrderMachineState, request: unknown): string | undefined {
  if (!isChangeRequest(request)) return 'CHANGE_INVALID';
  const ended = cancelRefusal(s);
  if (ended) return ended;
  if (s.cancel.phase !== 'IDLE') return 'ORDER_CANCELLING';
  const atD1 = s.status !== 'AWAITING_STOCK' && !s.submission.needed && s.production.operationId !== undefined;
  return atD1 ? undefined : 'ORDER_NOT_AT_D1';
}

/** The shape only: the client checked the address against D1's schema and the program's countries. */
function isChangeRequest(value: unknown): value is ChangeRequest {
  if (typeof value !== 'object' || value === null) return false;
  const { type, newDeliveryAddress } = value as Record<string, unknown>;
  if (!(changeTypes as readonly unknown[]).includes(type)) return false;
  const hasAddress = typeof newDeliveryAddress === 'object' && newDeliveryAddress !== null;
  return hasAddress === (type !== 'ACCELERATE');
}

/**
 * An accelerate or redirect request (the update, after its validator: see {@link changeRefusal}). Returns the id
 * under which its answer appears in `change.results`.
 */
export function onChangeRequested(s: OrderMachineState, request: ChangeRequest, now: number): number {
  const c = (s.change ??= {
    queue: [],
    phase: 'IDLE',
    operationId: undefined,
    nextId: 1,
    results: {},
    log: [],
    deliveryAddress: undefined,
  });
  const id = c.nextId++;
  c.queue.push({ id, request, requestedAt: now });
  if (c.phase === 'IDLE') c.phase = 'WANTED';
  return id;
}

export function onChangeSent(s: OrderMachineState, operationId: string, now: number): void {
  if (s.change?.phase !== 'WANTED') return;
  s.change.phase = 'SENT';
  s.change.operationId = operationId;
  restartPollClock(s, now);
  settle(s, now);
}

export function onChangeFailed(s: OrderMachineState, failure: StepFailure, now: number): void {
  resolveChange(s, { outcome: 'REJECTED', reason: failureReason(s, failure, 'CHANGE_REQUEST_FAILED') });
  settle(s, now);
}
