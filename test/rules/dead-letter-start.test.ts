import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IssuerEventsDeadLetterInput } from '../../rules/contracts/issuer-events-dead-letter.js';
import { deadLetterStartProblem } from '../../rules/issuer-events/dead-letter-start.js';

const input: IssuerEventsDeadLetterInput = {
  orderWorkflowId: 'card-order:ISSUER0001:req-1',
  issuerId: 'ISSUER0001',
  cardId: 'card-1',
  events: [{ eventId: 'e1', type: 'ORDER_SHIPPED', occurredAt: '2026-12-06T00:00:00.000Z' }],
} as IssuerEventsDeadLetterInput;

describe('the start a dead-letter record accepts', () => {
  it('accepts a complete start, with or without options', () => {
    assert.equal(deadLetterStartProblem(input, {}), undefined);
    assert.equal(
      deadLetterStartProblem(input, {
        retentionMs: 1000,
        redeliveryRetry: { maximumAttempts: 2, initialIntervalMs: 5 },
      }),
      undefined,
    );
  });

  it('names what is missing or malformed', () => {
    assert.match(deadLetterStartProblem({ ...input, cardId: '' }, {}) ?? '', /cardId and events are required/);
    const events = [...input.events, { eventId: 'e2' }] as IssuerEventsDeadLetterInput['events'];
    assert.equal(deadLetterStartProblem({ ...input, events }, {}), 'events[1] needs eventId, type and occurredAt');
    assert.match(deadLetterStartProblem(input, { retentionMs: 0 }) ?? '', /retentionMs/);
    assert.match(
      deadLetterStartProblem(input, { redeliveryRetry: { maximumAttempts: 1.5, initialIntervalMs: 5 } }) ?? '',
      /redeliveryRetry/,
    );
  });
});
