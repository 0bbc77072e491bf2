/**
 * The baseline of P1 and P4: a bare workflow of the card order's business shape, with nothing of ours in it. One
 * no-op activity stands for the D1 submit, signals for D1's notifications (the one marked `final` is the shipment),
 * one no-op activity for the final issuer event, then completion. Bundled for the benchmarks only.
 *
 * @module
 */
import { condition, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { BareActivities } from '../workers/bare-activities.js';

export const bareNotificationSignal = defineSignal<[{ stage: string; final: boolean }]>('bareNotification');

const { bareSubmit, bareIssuerEvent } = proxyActivities<BareActivities>({ startToCloseTimeout: '1m' });

/** With `windowMs`, the shipped workflow then waits that long on one timer, taking signals (P4's delivery window). */
export async function bareOrder(orderId: string, windowMs = 0): Promise<{ status: 'SHIPPED'; notifications: number }> {
  let notifications = 0;
  let shipped = false;
  setHandler(bareNotificationSignal, ({ final }) => {
    notifications += 1;
    shipped ||= final;
  });
  await bareSubmit(orderId);
  await condition(() => shipped);
  if (windowMs > 0) await sleep(windowMs);
  await bareIssuerEvent(orderId);
  return { status: 'SHIPPED', notifications };
}
