import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryNotRegisteredError, type WorkflowHandle } from '@temporalio/client';
import { QueryUnansweredError } from '../../common/errors.js';
import { queryAnswer, queryThroughFailover } from '../../temporal/query-through-failover.js';

/** What the client gets when a worker failed a legacy query while replaying (the failover race). */
const replayFailure = () =>
  new QueryNotRegisteredError(
    '[TMPRL1100] Nondeterminism error: No command scheduled for event HistoryEvent(id: 38, ActivityTaskScheduled)',
    3,
  );

describe('queries through a worker failover', () => {
  it('answers once a query failed in replay goes through on a later try', async () => {
    let calls = 0;
    const answer = await queryThroughFailover(
      () => {
        calls += 1;
        return calls === 1 ? Promise.reject(replayFailure()) : Promise.resolve('RUNNING');
      },
      { delayMs: 0 },
    );
    assert.deepEqual([answer, calls], ['RUNNING', 2]);
  });

  it('throws a replay failure that persists, after a bounded number of tries', async () => {
    let calls = 0;
    await assert.rejects(
      queryThroughFailover(
        () => {
          calls += 1;
          return Promise.reject(replayFailure());
        },
        { attempts: 3, delayMs: 0 },
      ),
      QueryNotRegisteredError,
    );
    assert.equal(calls, 3);
  });

  it('throws any other failure at once', async () => {
    let calls = 0;
    const notRegistered = new QueryNotRegisteredError('Unknown query type: orderState', 3);
    await assert.rejects(
      queryThroughFailover(
        () => {
          calls += 1;
          return Promise.reject(notRegistered);
        },
        { delayMs: 0 },
      ),
      (err) => err === notRegistered,
    );
    assert.equal(calls, 1);
  });
});

describe('a read asked a bounded query at a time (queryAnswer)', () => {
  /** What the client throws for a query whose call ended with gRPC `code`. */
  const queryFailedWith = (code: number, status: string, details: string) =>
    new Error('Failed to query Workflow', {
      cause: Object.assign(new Error(`${code} ${status}: ${details}`), { code, details, metadata: {} }),
    });
  const deadlineExceeded = () => queryFailedWith(4, 'DEADLINE_EXCEEDED', 'Deadline exceeded');

  /** A handle whose queries meet `outcome`, in turn; the deadline each is given is recorded. */
  function handleMeeting(...outcomes: (() => Promise<string>)[]) {
    const deadlines: number[] = [];
    const client = {
      withDeadline: <R>(deadline: number | Date, fn: () => Promise<R>) => {
        deadlines.push(Number(deadline));
        return fn();
      },
    };
    let calls = 0;
    const query = () => (outcomes[Math.min(calls++, outcomes.length - 1)] as () => Promise<string>)();
    const handle = { workflowId: 'campaign:ISSUER0001:c1', client, query } as unknown as WorkflowHandle;
    return { handle, deadlines };
  }

  it('answers within the wait, under a deadline that far ahead', async () => {
    const { handle, deadlines } = handleMeeting(() => Promise.resolve('RUNNING'));
    const before = Date.now();
    assert.equal(await queryAnswer(handle, (h) => h.query('state'), { waitMs: 3_000 }), 'RUNNING');
    assert.ok(deadlines.length === 1 && deadlines[0]! >= before + 3_000 && deadlines[0]! <= Date.now() + 3_000);
  });

  it('asks again, with a new deadline, when a query was not answered in time', async () => {
    const { handle, deadlines } = handleMeeting(
      () => Promise.reject(deadlineExceeded()),
      () => Promise.resolve('PAUSED'),
    );
    assert.equal(await queryAnswer(handle, (h) => h.query('state')), 'PAUSED');
    assert.equal(deadlines.length, 2);
  });

  it('takes a query the server cancelled at its deadline for one not answered in time, and a cancel before as an error', async () => {
    const cancelled = () => queryFailedWith(1, 'CANCELLED', 'Call cancelled');
    const atDeadline = handleMeeting(
      () => Promise.reject(cancelled()),
      () => Promise.resolve('RUNNING'),
    );
    assert.equal(await queryAnswer(atDeadline.handle, (h) => h.query('state'), { waitMs: 0 }), 'RUNNING');
    const before = handleMeeting(() => Promise.reject(cancelled()));
    await assert.rejects(
      queryAnswer(before.handle, (h) => h.query('state'), { waitMs: 60_000 }),
      /Failed to query/,
    );
  });

  it('throws ERR_QUERY_UNANSWERED, retryable, once it gave up with none answered', async () => {
    const { handle } = handleMeeting(() => Promise.reject(deadlineExceeded()));
    await assert.rejects(
      queryAnswer(handle, (h) => h.query('state'), { giveUpMs: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof QueryUnansweredError);
        assert.deepEqual(
          [err.code, err.retryable, err.workflowId],
          ['ERR_QUERY_UNANSWERED', true, 'campaign:ISSUER0001:c1'],
        );
        return true;
      },
    );
  });

  it('passes any other failure on', async () => {
    const { handle } = handleMeeting(() => Promise.reject(new Error('PERMISSION_DENIED')));
    await assert.rejects(
      queryAnswer(handle, (h) => h.query('state')),
      /PERMISSION_DENIED/,
    );
  });
});
