import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { productionLifecycle, type Operation } from '../../d1/report-schemas.js';
import { applyOperation, initialTrackingState, trackOperation } from '../../rules/legacy/order-tracking-v1.js';

function op(stage: string, overrides: Partial<Operation> = {}): Operation {
  const status = stage === 'CARD_SHIPPED' ? 'SUCCESSFUL' : /EXCEPTION|CANCELED/.test(stage) ? 'FAILED' : 'PENDING';
  return {
    operationId: 'op-1',
    operation: 'PRODUCE',
    status,
    startTime: '2026-11-24T10:00:00.000Z',
    cardId: 'card-1',
    details: { status: stage },
    ...overrides,
  };
}

function tracked() {
  const state = initialTrackingState();
  trackOperation(state, 'op-1');
  return state;
}

const now = '2026-11-24T10:00:01.000Z';

describe('order tracking', () => {
  it('walks the production lifecycle to SHIPPED, keeping a timeline', () => {
    const state = tracked();
    for (const stage of productionLifecycle.slice(0, -1)) {
      assert.equal(applyOperation(state, op(stage), 'notification', now), true);
      assert.equal(state.outcome, 'IN_PROGRESS');
    }
    const shipped = op('CARD_SHIPPED', {
      endTime: '2026-11-24T11:00:00.000Z',
      details: { status: 'CARD_SHIPPED', shipment: { carrier: 'fedex', trackingNumber: '79', status: 'PICKED_UP' } },
    });
    assert.equal(applyOperation(state, shipped, 'poll', now), true);
    assert.equal(state.outcome, 'SHIPPED');
    assert.equal(state.shipment?.trackingNumber, '79');
    assert.deepEqual(
      state.timeline.map((entry) => entry.stage),
      productionLifecycle,
    );
  });

  it('ignores a duplicate report', () => {
    const state = tracked();
    assert.equal(applyOperation(state, op('CARD_PROD_ONGOING'), 'notification', now), true);
    assert.equal(applyOperation(state, op('CARD_PROD_ONGOING'), 'notification', now), false);
    assert.equal(applyOperation(state, op('CARD_PROD_ONGOING'), 'poll', now), false);
    assert.equal(state.timeline.length, 1);
  });

  it('never lets a late stage undo a later one', () => {
    const state = tracked();
    applyOperation(state, op('CARD_SHIPPED'), 'notification', now);
    assert.equal(applyOperation(state, op('CARD_PROD_ONGOING'), 'notification', now), false);
    assert.equal(state.stage, 'CARD_SHIPPED');
    assert.equal(state.outcome, 'SHIPPED');
    assert.equal(state.timeline.at(-1)?.late, true);
  });

  it('takes later shipment updates of a shipped card', () => {
    const state = tracked();
    applyOperation(
      state,
      op('CARD_SHIPPED', { details: { status: 'CARD_SHIPPED', shipment: { status: 'PICKED_UP' } } }),
      'notification',
      now,
    );
    const delivered = op('CARD_SHIPPED', { details: { status: 'CARD_SHIPPED', shipment: { status: 'DELIVERED' } } });
    assert.equal(applyOperation(state, delivered, 'notification', now), true);
    assert.equal(state.shipment?.status, 'DELIVERED');
  });

  it('records a production failure with its error code, unknown codes included', () => {
    const state = tracked();
    const failed = op('CARD_PROD_EXCEPTION', {
      errorCode: 'SOMETHING_NEW',
      error: 'x',
      details: { status: 'CARD_PROD_EXCEPTION', reason: 'r' },
    });
    assert.equal(applyOperation(state, failed, 'notification', now), true);
    assert.equal(state.outcome, 'FAILED');
    assert.deepEqual(state.failure, {
      errorCode: 'SOMETHING_NEW',
      stage: 'CARD_PROD_EXCEPTION',
      error: 'x',
      reason: 'r',
    });
  });

  it('tolerates an unknown pending stage without moving backwards', () => {
    const state = tracked();
    applyOperation(state, op('CARD_PROD_READY'), 'notification', now);
    assert.equal(applyOperation(state, op('CARD_ON_HOLD'), 'notification', now), true);
    assert.equal(state.outcome, 'IN_PROGRESS');
    applyOperation(state, op('CARD_PROD_ONGOING'), 'notification', now);
    assert.equal(state.stage, 'CARD_PROD_ONGOING');
  });

  it('ignores reports about an earlier order of the same card', () => {
    const state = tracked();
    trackOperation(state, 'op-2');
    assert.equal(
      applyOperation(state, op('CARD_PROD_EXCEPTION', { errorCode: 'OUT_OF_STOCK' }), 'notification', now),
      false,
    );
    assert.equal(state.outcome, 'IN_PROGRESS');
  });

  it('records the outcome of a Pull & change request, and a cancel ends the order CANCELLED', () => {
    const state = tracked();
    const update = op('CARD_PROD_CANCELED', { operationId: 'upd-1', operation: 'UPDATE_ORDER', status: 'SUCCESSFUL' });
    assert.equal(applyOperation(state, update, 'notification', now), true);
    assert.equal(state.updates['upd-1']?.status, 'SUCCESSFUL');
    assert.equal(applyOperation(state, op('CARD_PROD_CANCELED'), 'notification', now), true);
    assert.equal(state.outcome, 'CANCELLED');
  });
});
