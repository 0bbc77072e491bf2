import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Operation } from '../../d1/report-schemas.js';
import { unmatchedWorkflowId } from '../../temporal/notification-router.js';
import { d1NotificationSignal } from '../../rules/contracts/card-order.js';
import {
  unmatchedNotificationsQuery,
  type UnmatchedNotificationsInput,
} from '../../rules/contracts/unmatched-notifications.js';
import { produceOp } from '../helpers/machine-driver.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, uniqueName } from '../helpers/temporal.js';

describe('unmatched notifications record (real dev server)', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack();
  });
  after(async () => {
    await stack?.close();
  });

  it('waits out its retention on one timer per period, not a timer per notification, then ends', () =>
    stack.withWorker(async () => {
      const cardId = uniqueName('card').slice(0, 40);
      const issuerId = stack.config.d1.issuerId;
      const input: UnmatchedNotificationsInput = { issuerId, cardId, retentionMs: 8_000 };
      const stages = ['CARD_PROD_REQUESTED', 'DATA_PREPARED', 'CARD_PROD_READY', 'CARD_PROD_ONGOING', 'CARD_PROD_DONE'];
      const report = (stage: string): { operations: Operation[] } => ({
        operations: [{ ...produceOp('op-elsewhere', { at: 0, status: 'PENDING', stage }), cardId }],
      });
      const [first, ...rest] = stages;
      const handle = await stack.client.temporal.workflow.signalWithStart('unmatchedNotifications', {
        workflowId: unmatchedWorkflowId(issuerId, cardId),
        taskQueue: stack.config.temporal.taskQueue,
        args: [input],
        signal: d1NotificationSignal,
        signalArgs: [report(first ?? '')],
      });
      // Each notification in a task of its own, as they come from D1 hours apart.
      for (const [index, stage] of rest.entries()) {
        await handle.signal(d1NotificationSignal, report(stage));
        await eventually(async () =>
          (await handle.query(unmatchedNotificationsQuery)).length === index + 2 ? true : undefined,
        );
      }
      const kept = (await handle.result()) as unknown[];
      assert.equal(kept.length, stages.length, 'every report kept');
      const history = await handle.fetchHistory();
      const timers = (history.events ?? []).filter((event) => event.timerStartedEventAttributes).length;
      const signals = (history.events ?? []).filter((event) => event.workflowExecutionSignaledEventAttributes).length;
      assert.equal(signals, stages.length);
      assert.ok(timers <= 2, `one timer per retention period, not per notification (${timers} timers)`);
    }));
});
