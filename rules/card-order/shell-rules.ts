/**
 * What the card order's workflow shell decides around the machine, as pure functions: the workflow
 * (`card-order-v2.ts`) and the test driver (`test/helpers/machine-driver.ts`) both call them, so the shell's rules are
 * tested without Temporal.
 *
 * @module
 */

/** A timer armed this recently is kept when the wake-up moves later: it was armed during a burst of news. */
export const TIMER_REARM_AFTER_MS = 60_000;

/**
 * Whether the workflow's one timer (firing at `timer.at`) must be replaced to wake at `at`. An earlier wake-up
 * always replaces it. A later one replaces it (cancel and start: 2 history events) unless the timer was armed
 * less than {@link TIMER_REARM_AFTER_MS} ago: notifications in a burst keep it, and when it fires early the loop
 * waits on (5 events, once for the whole burst).
 */
export function shouldRearm(timer: { at: number; armedAt: number }, at: number, now: number): boolean {
  if (at === timer.at) return false;
  return at < timer.at || now - timer.armedAt >= TIMER_REARM_AFTER_MS;
}
