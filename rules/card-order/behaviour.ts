/**
 * The card order's behaviour versions. An order lives 30 days and more, through several deploys, and every command
 * its run already wrote must be written again, in the same order, when a later deploy replays it. So every change to
 * what the order decides (which activity, timer or upsert comes next) applies only to runs that started under it: the
 * workflow settles the version once per run with `patched()` (see `settle-behaviour.ts`) and hands it to the order
 * machine in its state, and each changed decision reads it with {@link behaves}.
 *
 * Pure: the machine and its tests import it; only the workflow shell calls `patched()`.
 *
 * @module
 */

/**
 * Every version after the first, oldest first; a run's version is 1 + the index of the newest marker it has.
 * Append only: never rename, reorder or remove an entry (the markers are in the histories of open orders).
 */
export const orderBehaviourMarkers = [
  /**
   * 2: orders that live for weeks. Transient D1 failures never end an order (it waits as D1_UNREACHABLE and tries
   * again); compensation waits for D1's verdict; only known stages are indexed and none moves the order back; issuer
   * events go out through a durable outbox.
   */
  'order-behaviour-2',
  /**
   * 3: campaigns that keep their own records. A campaign card reports to its campaign once it settles (shipped,
   * returned or ended); once it has begun ordering itself (its campaign's wait ran out), a late word of the
   * campaign's batch no longer decides it: its own call to D1 does.
   */
  'order-behaviour-3',
  /**
   * 4: an unanswered request is "ask again". A cancel, change or re-ship whose call to D1 never got through (503s,
   * 429s, timeouts until ORDER_D1_RETRY_TIMEOUT) is refused as D1_UNREACHABLE, whatever code D1's last refusal
   * carried (found by `npm run chaos`, seed 3: an outage answered SERVICE_UNAVAILABLE, which reads as final).
   */
  'order-behaviour-4',
] as const;

/** The version a run settled before versioning existed: the behaviour of every run recorded before it. */
export const FIRST_ORDER_BEHAVIOUR = 1;
/** The version a new run settles under this code. */
export const LATEST_ORDER_BEHAVIOUR = FIRST_ORDER_BEHAVIOUR + orderBehaviourMarkers.length;

/** Named versions, so that a decision reads `behaves(s, 'weeks')`, not a bare number. */
export const orderBehaviours = {
  /** See the marker `order-behaviour-2`. */
  weeks: 2,
  /** See the marker `order-behaviour-3`. */
  campaignRecords: 3,
  /** See the marker `order-behaviour-4`. */
  askAgain: 4,
} as const satisfies Record<string, number>;
export type OrderBehaviour = keyof typeof orderBehaviours;

/** Whether a run of `version` (absent: a state carried from before versioning) decides as `behaviour` says. */
export function behaves(state: { behaviour?: number | undefined }, behaviour: OrderBehaviour): boolean {
  return (state.behaviour ?? FIRST_ORDER_BEHAVIOUR) >= orderBehaviours[behaviour];
}
