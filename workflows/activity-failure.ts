/**
 * Reading an activity's failure in workflow code (deterministic, no I/O).
 *
 * @module
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/**
 * The typed failure an activity threw (its type, whether it is permanent, its details), under the ActivityFailure
 * that carries it; undefined when there is none (the activity's time ran out, or it was cancelled).
 */
export function activityApplicationFailure(err: unknown): ApplicationFailure | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? cause : undefined;
}
