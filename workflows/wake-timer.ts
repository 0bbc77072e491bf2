/**
 * A workflow's one wake-up timer (the card order's and the campaign's): armed for the time its rules say, replacing
 * the one before; when it fires, the workflow's clock reads at least its time, and the loop wakes.
 *
 * @module
 */
import { CancellationScope, sleep } from '@temporalio/workflow';
import type { WorkflowClock } from './workflow-clock.js';

export interface WakeTimer {
  /** The timer armed and not yet fired, if any. */
  current(): { at: number; armedAt: number } | undefined;
  /** Arms the timer for `at`, cancelling the one before. */
  arm(at: number): void;
}

export function wakeTimer(clock: WorkflowClock, wakeUp: () => void): WakeTimer {
  let timer: { at: number; armedAt: number; scope: CancellationScope } | undefined;
  return {
    current: () => timer,
    arm(at: number): void {
      timer?.scope.cancel();
      const scope = new CancellationScope();
      timer = { at, armedAt: clock.now(), scope };
      scope
        .run(() => sleep(Math.max(at - clock.now(), 1)))
        .then(
          () => {
            clock.reached(at);
            if (timer?.scope === scope) timer = undefined;
            wakeUp();
          },
          () => undefined, // replaced by an earlier one
        );
    },
  };
}
