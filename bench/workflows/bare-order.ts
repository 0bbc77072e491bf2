/**
 * The baseline of P1, P4 and P6: a bare workflow of the card order's business shape, with nothing of ours in it. One
 * no-op activity stands for the D1 submit, signals for D1's notifications (the one marked `final` is the shipment),
 * one no-op activity for the final issuer event, then completion. With `tellIssuer: 'each'` (P1, P6) it also runs a
 * no-op issuer-event activity wherever our order tells the issuer: after the submit, at the first stage, at the
 * shipment (the final event itself when there is no delivery window) and at each notification after it (the carrier
 * updates). Bundled for the benchmarks only.
 *
 * @module
 */
import { allHandlersFinished, condition, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { BareActivities } from '../workers/bare-activities.js';

export const bareNotificationSignal = defineSignal<[{ stage: string; final: boolean }]>('bareNotification');

const { bareSubmit, bareIssuerEvent } = proxyActivities<BareActivities>({ startToCloseTimeout: '1m' });

export interface BareOrderOptions {
  /** `end` (default): one issuer event, at the end. `each`: one per event our order gives the issuer. */
  tellIssuer?: 'end' | 'each';
}

/** With `windowMs`, the shipped workflow then waits that long on one timer, taking signals (P4's delivery window). */
export async function bareOrder(
  orderId: string,
  windowMs = 0,
  { tellIssuer = 'end' }: BareOrderOptions = {},
): Promise<{ status: 'SHIPPED'; notifications: number }> {
  const each = tellIssuer === 'each';
  let notifications = 0;
  let shipped = false;
  setHandler(bareNotificationSignal, async ({ final }) => {
    notifications += 1;
    // Ours tells the issuer at the first stage (in production), at the shipment and at each carrier update.
    const news = notifications === 1 || final || shipped;
    shipped ||= final;
    // Without a window the shipment is the end, which ours tells the issuer once.
    if (each && news && !(final && windowMs === 0)) await bareIssuerEvent(orderId);
  });
  await bareSubmit(orderId);
  if (each) await bareIssuerEvent(orderId);
  await condition(() => shipped);
  if (windowMs > 0) await sleep(windowMs);
  if (each) await condition(allHandlersFinished);
  await bareIssuerEvent(orderId);
  return { status: 'SHIPPED', notifications };
}
