import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QueryNotRegisteredError } from '@temporalio/client';
import { queryThroughFailover } from '../../client/query-through-failover.js';

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
