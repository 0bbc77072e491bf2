/**
 * A workflow query that rides out a worker's failover. When the worker that last ran a workflow dies, the server
 * first tries the query on that worker's sticky queue (about 10 s), then gives it to another worker as a legacy
 * query, while the workflow's own pending task goes to that worker too; sdk-core may then fail the query with a
 * nondeterminism error (TMPRL1100) although the workflow itself goes on unharmed (our crash test met it once: the
 * query failed, the campaign completed). Such a failure is tried again a bounded number of times; one that persists
 * is real and is thrown.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { QueryNotRegisteredError } from '@temporalio/client';

/** A query the worker failed while replaying the workflow to answer it. */
function failedInReplay(err: unknown): boolean {
  return err instanceof QueryNotRegisteredError && err.message.includes('TMPRL1100');
}

export async function queryThroughFailover<R>(
  query: () => Promise<R>,
  { attempts = 3, delayMs = 1_000 }: { attempts?: number; delayMs?: number } = {},
): Promise<R> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await query();
    } catch (err) {
      if (attempt >= attempts || !failedInReplay(err)) throw err;
      await delay(delayMs);
    }
  }
}
