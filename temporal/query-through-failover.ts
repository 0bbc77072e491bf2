/**
 * Reads of running workflows by query, made safe for worker failovers.
 *
 * - {@link queryWithin} / {@link queryAnswer}: a query gets a few seconds, then is given up, so it never waits for a
 *   later worker (which, with events that came meanwhile, can wedge the workflow's next update: see queryWithin).
 * - {@link quietForQuery}: a workflow whose task waits for a worker is not queried at all.
 * - {@link queryThroughFailover}: a query the worker failed in replay while taking over (TMPRL1100 on the query
 *   only; the workflow goes on unharmed, as our crash test met once) is tried again a bounded number of times; one
 *   that persists is real and is thrown.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  isGrpcCancelledError,
  isGrpcDeadlineError,
  QueryNotRegisteredError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { QueryUnansweredError } from '../common/errors.js';

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

/** How long a read waits for a workflow's pending task to be taken before it answers without a query. */
export const PENDING_TASK_WAIT_MS = 10_000;

/**
 * Whether the workflow may be queried now: it has no workflow task waiting to be taken, or the one it had was taken
 * within `waitMs`. The server holds a query to a workflow with a waiting task until that task runs, which may be long
 * after its worker died; a read that would rather not wait answers from search attributes instead.
 */
export async function quietForQuery(
  handle: WorkflowHandle,
  description: WorkflowExecutionDescription,
  { waitMs = PENDING_TASK_WAIT_MS, everyMs = 250 }: { waitMs?: number; everyMs?: number } = {},
): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (let current = description; ; current = await handle.describe()) {
    if (!current.raw.pendingWorkflowTask) return true;
    if (Date.now() >= deadline) return false;
    await delay(everyMs);
  }
}

/** How long a query to a running workflow may wait for a worker to take it. */
export const QUERY_WAIT_MS = 3_000;

/**
 * The query's answer, or undefined when no worker took it within `waitMs`. A query sent while the workflow is quiet
 * goes to a worker as a legacy query: first to the last worker's sticky queue, then, if that worker is gone and the
 * caller still waits, to any worker. Events that come meanwhile (a signal, a timer) are in the history the worker gets
 * with it: sdk-core 1.24 runs the workflow's code for them to answer, and sends the commands that made with the
 * workflow's next task, ahead of an update that task carries; the replay accepts the update first, and the workflow
 * wedges with TMPRL1100 (`test/workflows/late-legacy-query.test.ts`; `npm run chaos`, seed 11). The server hands a
 * query to another worker only while its caller waits, so a query given up at a short deadline closes that window from
 * tens of seconds (a dead worker's sticky timeout, then a worker free to take it) to the deadline.
 */
export async function queryWithin<R>(
  client: Pick<Client, 'withDeadline'>,
  waitMs: number,
  query: () => Promise<R>,
): Promise<{ answer: R } | undefined> {
  const deadline = Date.now() + waitMs;
  try {
    return { answer: await client.withDeadline(deadline, query) };
  } catch (err) {
    // The client's ServiceError carries the gRPC error as its cause (these look down the causes). At its deadline a
    // query ends DEADLINE_EXCEEDED, or CANCELLED when the server's end of the call went first (seen under CI's load).
    if (isGrpcDeadlineError(err) || (isGrpcCancelledError(err) && Date.now() >= deadline)) return undefined;
    throw err;
  }
}

/** How long a read that must answer asks again, a bounded query at a time, before it gives up. */
export const QUERY_GIVE_UP_MS = 60_000;

/**
 * The query's answer, asked a bounded query at a time ({@link queryWithin}) until one is answered: a busy worker
 * answers a later one, and no query is ever left waiting past `waitMs`. {@link QueryUnansweredError} once
 * `giveUpMs` passed with none answered.
 */
export async function queryAnswer<R>(
  handle: WorkflowHandle,
  query: (handle: WorkflowHandle) => Promise<R>,
  { waitMs = QUERY_WAIT_MS, giveUpMs = QUERY_GIVE_UP_MS }: { waitMs?: number; giveUpMs?: number } = {},
): Promise<R> {
  const giveUpAt = Date.now() + giveUpMs;
  for (;;) {
    const queried = await queryWithin(handle.client, waitMs, () => queryThroughFailover(() => query(handle)));
    if (queried) return queried.answer;
    if (Date.now() >= giveUpAt) throw new QueryUnansweredError(handle.workflowId, giveUpMs);
  }
}
