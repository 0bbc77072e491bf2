/**
 * A workflow's clock (card orders, campaigns): the SDK's `Date.now()`, never earlier than a timer the workflow saw fire. A timer fires only once
 * its time has passed, so in every history the two agree; but a worker that takes over a workflow whose task timed
 * out on a dead worker's sticky queue has been seen (chaos runs: an order, seed 3 with `--stack`; a campaign, seed 15) to read the time of the task
 * before instead, live, while replay reads the right one: a late legacy query runs the code for the new events at the
 * last task's time (`temporal/query-through-failover.ts`). A decision taken on that stale time (an outage wait "not
 * over yet") issues other commands than its replay: a nondeterminism error. Reading this clock, the live run and the
 * replay both see the timer's time at least, and decide alike.
 *
 * @module
 */

export interface WorkflowClock {
  /** Now, as the decisions read it. */
  now(): number;
  /** Notes that a timer set for `at` fired: the clock reads at least `at` from now on. */
  reached(at: number): void;
}

export function workflowClock(): WorkflowClock {
  let floor = 0;
  return {
    now: () => Math.max(Date.now(), floor),
    reached: (at) => {
      floor = Math.max(floor, at);
    },
  };
}
