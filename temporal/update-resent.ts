/**
 * Sending an update so that a dropped one is sent again: the server may drop an update in flight (under load, on a
 * shard move), and asked again under the same update id it runs it once and gives every attempt the one answer.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';

/** Attempts in all, and the wait before the second (it grows by as much each time). */
const UPDATE_ATTEMPTS = 4;
const UPDATE_RETRY_DELAY_MS = 500;

/**
 * `send(updateId)`, sent again under the same id while the server drops it, up to {@link UPDATE_ATTEMPTS} times.
 * Any other failure (the validator's refusal, the workflow gone) is thrown at once.
 */
export async function executeUpdateResent<R>(updateId: string, send: (updateId: string) => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(updateId);
    } catch (err) {
      const transient = err instanceof ServiceError || err instanceof WorkflowUpdateRPCTimeoutOrCancelledError;
      if (!transient || attempt >= UPDATE_ATTEMPTS) throw err;
      await delay(UPDATE_RETRY_DELAY_MS * attempt);
    }
  }
}
