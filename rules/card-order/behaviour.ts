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
  /**
   * 5: one marker a run. A run records this marker alone: it implies every version before it and the delivery
   * window. Each `patched()` marker also makes the SDK upsert `TemporalChangeVersion`, so a new run wrote four
   * markers and four upserts before any work (8 history events, 8 billable actions); now one and one.
   */
  'order-behaviour-5',
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
  /** See the marker `order-behaviour-5`. */
  oneMarker: 5,
} as const satisfies Record<string, number>;
export type OrderBehaviour = keyof typeof orderBehaviours;

/**
 * From this version on, a marker implies every version before it: the workflow asks these markers newest first and
 * stops at the first it finds. The markers before it are asked as runs recorded them: each one, oldest first.
 */
export const FIRST_IMPLYING_BEHAVIOUR: number = orderBehaviours.oneMarker;

/** Whether a run of `version` (absent: a state carried from before versioning) decides as `behaviour` says. */
export function behaves(state: { behaviour?: number | undefined }, behaviour: OrderBehaviour): boolean {
  return (state.behaviour ?? FIRST_ORDER_BEHAVIOUR) >= orderBehaviours[behaviour];
}

/**
 * The run's version, from `hasMarker` (the workflow's `patched()`). The implying markers are asked newest first and
 * the first found settles it: a new run records one marker. Without one, the older markers are asked each, oldest
 * first, exactly as the runs that recorded them asked (a replay must issue the same markers in the same order); the
 * newest found settles it. A replayed run's `hasMarker` answers false for markers its history lacks, without a command.
 */
export function settleBehaviour(hasMarker: (marker: string) => boolean): number {
  for (let version = LATEST_ORDER_BEHAVIOUR; version >= FIRST_IMPLYING_BEHAVIOUR; version--) {
    if (hasMarker(markerOf(version))) return version;
  }
  let version = FIRST_ORDER_BEHAVIOUR;
  for (let older = FIRST_ORDER_BEHAVIOUR + 1; older < FIRST_IMPLYING_BEHAVIOUR; older++) {
    if (hasMarker(markerOf(older))) version = older;
  }
  return version;
}

function markerOf(version: number): string {
  const marker = orderBehaviourMarkers[version - FIRST_ORDER_BEHAVIOUR - 1];
  if (marker === undefined) throw new RangeError(`No marker for behaviour version ${version}`);
  return marker;
}
