import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { runCli } from '../../client/cli.js';
import { failureConverterPath, loadCodecKeyRing } from '../../codec/data-converter.js';
import { AesGcmPayloadCodec } from '../../codec/payload-codec.js';
import { projectRoot } from '../../config/config.js';
import { visibilityLiteral } from '../../temporal/visibility-query.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import {
  ISSUER_EVENTS_DEAD_LETTER_WORKFLOW,
  issuerEventsDeadLetterId,
  issuerEventsDeadLetterQuery,
  type DeadLetterIssuerEvent,
  type IssuerEventsDeadLetterInput,
  type IssuerEventsDeadLetterOptions,
} from '../../rules/contracts/issuer-events-dead-letter.js';
import type { OrderState } from '../../rules/contracts/card-order.js';
import type { issuerEventsDeadLetter } from '../../workflows/issuer-events-dead-letter.js';
import { cardIdKey, issuerIdKey } from '../../rules/contracts/search-attributes.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, startContinueAsNewServer, testWorkflowBundle, uniqueName } from '../helpers/temporal.js';

/** Redeliveries in tests try each event twice, 100 ms apart, instead of the default half minute. */
const quickRetry: IssuerEventsDeadLetterOptions = { redeliveryRetry: { maximumAttempts: 2, initialIntervalMs: 100 } };

interface Started {
  orderWorkflowId: string;
  cardId: string;
  input: IssuerEventsDeadLetterInput;
  handle: WorkflowHandle<typeof issuerEventsDeadLetter>;
}

/** Starts a record as the closing order does: its id scheme, IssuerId and CardId, the input with two events. */
async function startRecord(stack: SagaStack, options: IssuerEventsDeadLetterOptions): Promise<Started> {
  const issuerId = stack.config.d1.issuerId;
  const cardId = uniqueName('card').slice(0, 40);
  const issuerRequestId = uniqueName('req');
  const orderWorkflowId = cardOrderWorkflowId(issuerId, issuerRequestId);
  const snapshot: Omit<OrderState, 'timeline'> = {
    issuerId,
    cardId,
    issuerRequestId,
    cardProductId: 'PRD_VISA_DEBIT',
    status: 'SUBMITTED',
    stage: undefined,
    operationId: 'op-1',
    dueDate: undefined,
    shipment: undefined,
    failure: undefined,
    attempts: { submissions: 1, reorders: 0, polls: 0, pollFailures: 0 },
    lastPollAt: undefined,
    nextPollAt: undefined,
    compensations: [],
  };
  // Not in date order on purpose: the record keeps the order's order, the list finds the oldest by date.
  const events: DeadLetterIssuerEvent[] = [
    {
      eventId: `${orderWorkflowId}:1`,
      type: 'submitted',
      occurredAt: '2026-03-02T10:00:00.000Z',
      status: 'SUBMITTED',
      order: snapshot,
    },
    {
      eventId: `${orderWorkflowId}:2`,
      type: 'status-changed',
      occurredAt: '2026-03-01T09:00:00.000Z',
      status: 'IN_PRODUCTION',
      order: { ...snapshot, status: 'IN_PRODUCTION', stage: 'CARD_PROD_ONGOING' },
    },
  ];
  const input = { orderWorkflowId, issuerId, cardId, events, lastFailure: 'ERR_ISSUER_EVENT_DELIVERY' };
  const handle = await stack.client.temporal.workflow.start<typeof issuerEventsDeadLetter>(
    ISSUER_EVENTS_DEAD_LETTER_WORKFLOW,
    {
      workflowId: issuerEventsDeadLetterId(orderWorkflowId),
      taskQueue: stack.config.temporal.taskQueue,
      args: [input, options],
      typedSearchAttributes: [
        { key: issuerIdKey, value: issuerId },
        { key: cardIdKey, value: cardId },
      ],
    },
  );
  return { orderWorkflowId, cardId, input, handle };
}

function cliOf(stack: () => SagaStack) {
  return async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env: stack().envVars });
    return { code, out, err };
  };
}

/** Events as JSON carries them (fields left undefined are absent), the way the issuer and the record see them. */
function asSent(events: DeadLetterIssuerEvent[]): unknown {
  return JSON.parse(JSON.stringify(events));
}

/** The events the issuer's endpoint took for this order, in arrival order. */
function received(stack: SagaStack, orderWorkflowId: string) {
  return stack.events.events.filter((event) => event.eventId.startsWith(`${orderWorkflowId}:`));
}

describe('dead-lettered issuer events, for operators', () => {
  let stack: SagaStack;
  before(async () => {
    stack = await startSagaStack();
  });
  after(async () => {
    await stack?.close();
  });
  const cli = cliOf(() => stack);

  it('lists an order whose events were not delivered, keeps them while the issuer is down, then redelivers them in order', () =>
    stack.withWorker(async () => {
      stack.events.setDown(true);
      const { orderWorkflowId, cardId, input, handle } = await startRecord(stack, quickRetry);

      const listed = await eventually(async () => {
        const records = await stack.client.listFailedIssuerEvents({ cardId });
        return records.find((record) => record.orderWorkflowId === orderWorkflowId);
      });
      assert.deepEqual(
        [listed.issuerId, listed.cardId, listed.count, listed.oldestOccurredAt, listed.lastFailure],
        [stack.config.d1.issuerId, cardId, 2, '2026-03-01T09:00:00.000Z', 'ERR_ISSUER_EVENT_DELIVERY'],
      );
      const view = await handle.query(issuerEventsDeadLetterQuery);
      assert.equal(view.status, 'PENDING');
      assert.deepEqual(
        view.events.map((e) => [e.eventId, e.type, e.occurredAt, e.status, e.order.status]),
        input.events.map((e) => [e.eventId, e.type, e.occurredAt, e.status, e.order.status]),
      );
      // Another issuer's filter does not reach this record.
      assert.deepEqual(await stack.client.listFailedIssuerEvents({ issuerId: 'ISSUER0002', cardId }), []);

      const human = await cli('events', 'failed', '--card', cardId);
      assert.deepEqual(
        [human.code, human.out],
        [
          0,
          [
            `${orderWorkflowId} card=${cardId} events=2 oldest=2026-03-01T09:00:00.000Z ` +
              'lastFailure=ERR_ISSUER_EVENT_DELIVERY redeliveries=0',
          ],
        ],
      );
      const json = await cli('events', 'failed', '--card', cardId, '--json');
      assert.deepEqual(JSON.parse(json.out[0] ?? '[]'), [listed]);

      const stillDown = await cli('events', 'redeliver', orderWorkflowId);
      assert.deepEqual(
        [stillDown.code, stillDown.out],
        [1, ['REMAINING 2 delivered=0 failure=ERR_ISSUER_EVENT_DELIVERY']],
      );
      assert.ok(stack.events.refused >= 2, `the endpoint was tried (${stack.events.refused} refused)`);
      assert.deepEqual(received(stack, orderWorkflowId), []);
      assert.equal((await handle.query(issuerEventsDeadLetterQuery)).redeliveries, 1);

      stack.events.setDown(false);
      const redelivered = await cli('events', 'redeliver', orderWorkflowId);
      assert.deepEqual([redelivered.code, redelivered.out, redelivered.err], [0, ['DELIVERED 2'], []]);
      // Exactly as the order would have posted them, in the order's order.
      assert.deepEqual(received(stack, orderWorkflowId), asSent(input.events));

      const result = await handle.result();
      assert.deepEqual([result.status, result.events, result.delivered, result.redeliveries], ['DELIVERED', [], 2, 2]);
      const history = await handle.fetchHistory();
      const timers = (history.events ?? []).filter((event) => event.timerStartedEventAttributes);
      assert.equal(timers.length, 1, 'one retention timer, however many redeliveries');
      await eventually(async () => {
        const { out } = await cli('events', 'failed', '--card', cardId, '--json');
        return out[0] === '[]' ? true : undefined;
      });

      const gone = await cli('events', 'redeliver', orderWorkflowId);
      assert.equal(gone.code, 1);
      assert.match(gone.err[0] ?? '', /^ISSUER_EVENTS_NOT_FOUND: /);
      await assert.rejects(stack.client.redeliverIssuerEvents(orderWorkflowId), { code: 'ISSUER_EVENTS_NOT_FOUND' });

      // The test bundle re-exports the product's workflows: it must know this one to replay its history.
      const codec = new AesGcmPayloadCodec(
        await loadCodecKeyRing({ file: path.join(projectRoot, 'test/fixtures/codec-keys.json'), inline: undefined }),
      );
      await Worker.runReplayHistory(
        { workflowBundle: await testWorkflowBundle(), dataConverter: { payloadCodecs: [codec], failureConverterPath } },
        history,
        handle.workflowId,
      );
      await stack.recordWorkflowHistory(handle.workflowId, 'issuer-events-dead-letter', 'redelivered-after-outage');
    }));

  it('ends EXPIRED after its retention, with the events still undelivered in its result', () =>
    stack.withWorker(async () => {
      const { orderWorkflowId, input, handle } = await startRecord(stack, { ...quickRetry, retentionMs: 1_000 });
      const result = await handle.result();
      assert.equal(result.status, 'EXPIRED');
      assert.deepEqual(result.events, asSent(input.events));
      assert.equal(result.lastFailure, 'ERR_ISSUER_EVENT_DELIVERY');
      await assert.rejects(stack.client.redeliverIssuerEvents(orderWorkflowId), { code: 'ISSUER_EVENTS_NOT_FOUND' });
      await stack.recordWorkflowHistory(handle.workflowId, 'issuer-events-dead-letter', 'expired-undelivered');
    }));

  it('refuses malformed ids and calls, naming the argument, before any query', async () => {
    const badCard = await cli('events', 'failed', '--card', "x' OR CardId != '", '--json');
    assert.deepEqual(
      [badCard.code, (JSON.parse(badCard.err[0] ?? '{}') as { argument: string }).argument],
      [2, '--card'],
    );
    const badOrder = await cli('events', 'redeliver', "card-order:ISSUER0001:x' OR '1", '--json');
    assert.deepEqual(
      [badOrder.code, (JSON.parse(badOrder.err[0] ?? '{}') as { argument: string }).argument],
      [2, '<orderWorkflowId>'],
    );
    const missing = await cli('events', 'redeliver', '--json');
    assert.deepEqual(
      [missing.code, (JSON.parse(missing.err[0] ?? '{}') as { argument: string }).argument],
      [2, '<orderWorkflowId>'],
    );
    const badAction = await cli('events', 'forget', '--json');
    assert.deepEqual(
      [badAction.code, (JSON.parse(badAction.err[0] ?? '{}') as { argument: string }).argument],
      [2, '<action>'],
    );
    await assert.rejects(stack.client.listFailedIssuerEvents({ cardId: "x' OR '1" }), {
      code: 'ERR_ORDER_INVALID',
    });
    await assert.rejects(stack.client.redeliverIssuerEvents('issuer-events-failed:card-order:ISSUER0001:r'), {
      code: 'ERR_ORDER_INVALID',
    });
  });
});

describe('dead-lettered issuer events over a long outage', () => {
  let stack: SagaStack;
  before(async () => {
    // A server of its own that suggests continue-as-new after 20 events: two failed redeliveries' worth.
    const temporal = await startContinueAsNewServer(20);
    stack = await startSagaStack({ temporal });
  });
  after(async () => {
    await stack?.close();
  });
  const cli = cliOf(() => stack);

  it('continues as new when its history grows, carrying the events, counts and retention, then delivers them', () =>
    stack.withWorker(async () => {
      stack.events.setDown(true);
      const { orderWorkflowId, cardId, input, handle } = await startRecord(stack, quickRetry);
      const first = await handle.query(issuerEventsDeadLetterQuery);
      for (let i = 0; i < 3; i++) {
        const { code, out } = await cli('events', 'redeliver', orderWorkflowId);
        assert.deepEqual([code, out], [1, ['REMAINING 2 delivered=0 failure=ERR_ISSUER_EVENT_DELIVERY']]);
      }
      const runs: string[] = [];
      for await (const execution of stack.client.temporal.workflow.list({
        query: `WorkflowId = ${visibilityLiteral(handle.workflowId)}`,
      })) {
        runs.push(execution.runId);
      }
      assert.ok(runs.length > 1, `expected several runs, got ${runs.length}`);
      const carried = await handle.query(issuerEventsDeadLetterQuery);
      assert.deepEqual(
        [carried.events, carried.redeliveries, carried.createdAt, carried.retentionEndsAt],
        [asSent(input.events), 3, first.createdAt, first.retentionEndsAt],
      );
      // The new run is still listed by the ids the order set.
      const listed = await eventually(async () => {
        const records = await stack.client.listFailedIssuerEvents({ cardId });
        return records.find((record) => record.orderWorkflowId === orderWorkflowId && record.redeliveries === 3);
      });
      assert.equal(listed.count, 2);

      stack.events.setDown(false);
      const { code, out } = await cli('events', 'redeliver', orderWorkflowId);
      assert.deepEqual([code, out], [0, ['DELIVERED 2']]);
      assert.deepEqual(received(stack, orderWorkflowId), asSent(input.events));
      const result = await handle.result();
      assert.deepEqual([result.status, result.delivered, result.redeliveries], ['DELIVERED', 2, 4]);
    }));
});
