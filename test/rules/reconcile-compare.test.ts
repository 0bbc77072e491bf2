import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Operation } from '../../d1/report-schemas.js';
import { d1ReportFor, isD1Ahead } from '../../rules/reconcile/reconcile-compare.js';
import { applyReport, newProductionState, trackOperation } from '../../rules/card-order/production-tracking.js';

const inProduction = [
  'CARD_PROD_REQUESTED',
  'DATA_PREPARED',
  'CARD_PROD_READY',
  'CARD_PROD_ONGOING',
  'CARD_PROD_DONE',
] as const;

function op(
  operationId: string,
  stage: string,
  status: Operation['status'],
  { operation = 'PRODUCE', startTime = '2026-11-20T10:00:00Z' } = {},
): Operation {
  return { operationId, operation, status, startTime, cardId: 'crd_0001', details: { status: stage } };
}

describe('reconciliation: is D1 ahead of the order?', () => {
  it('is ahead at a later production stage, and not at the same or an earlier one', () => {
    const order = { status: 'IN_PRODUCTION', stage: 'CARD_PROD_READY' };
    assert.equal(isD1Ahead(order, { stage: 'CARD_PROD_ONGOING', status: 'PENDING' }), true);
    assert.equal(isD1Ahead(order, { stage: 'CARD_PROD_READY', status: 'PENDING' }), false);
    assert.equal(isD1Ahead(order, { stage: 'DATA_PREPARED', status: 'PENDING' }), false);
  });

  it('is ahead when D1 shipped an order still waiting, even one that never heard from D1', () => {
    for (const stage of [undefined, ...inProduction]) {
      assert.equal(isD1Ahead({ status: 'SUBMITTED', stage }, { stage: 'CARD_SHIPPED', status: 'SUCCESSFUL' }), true);
    }
  });

  it('is ahead when D1 failed or cancelled an order in production', () => {
    const order = { status: 'CANCELLING', stage: 'CARD_PROD_ONGOING' };
    assert.equal(isD1Ahead(order, { stage: 'CARD_PROD_EXCEPTION', status: 'FAILED' }), true);
    assert.equal(isD1Ahead(order, { stage: 'CARD_PROD_CANCELED', status: 'FAILED' }), true);
  });

  it('after shipment, is ahead only with the card returned', () => {
    const shipped = { status: 'SHIPPED', stage: 'CARD_SHIPPED' };
    assert.equal(isD1Ahead(shipped, { stage: 'CARD_RETURNED', status: 'SUCCESSFUL' }), true);
    assert.equal(isD1Ahead(shipped, { stage: 'CARD_PROD_EXCEPTION', status: 'FAILED' }), false);
    assert.equal(
      isD1Ahead({ status: 'RETURNED', stage: 'CARD_RETURNED' }, { stage: 'CARD_SHIPPED', status: 'SUCCESSFUL' }),
      false,
    );
  });

  it('is never ahead of an order whose production failed, was cancelled or waits to be re-ordered', () => {
    for (const status of ['AWAITING_STOCK', 'COMPENSATING', 'CANCELLED', 'FAILED']) {
      const order = { status, stage: 'DATA_EXCEPTION' };
      assert.equal(isD1Ahead(order, { stage: 'CARD_SHIPPED', status: 'SUCCESSFUL' }), false, status);
      assert.equal(isD1Ahead(order, { stage: 'CARD_PROD_EXCEPTION', status: 'FAILED' }), false, status);
    }
  });

  it('takes a stage the lattice does not know as ahead only once D1 ended the operation', () => {
    const order = { status: 'IN_PRODUCTION', stage: 'CARD_PROD_ONGOING' };
    assert.equal(isD1Ahead(order, { stage: 'CARD_QA_CHECK', status: 'PENDING' }), false);
    assert.equal(isD1Ahead(order, { stage: 'CARD_HANDED_OVER', status: 'SUCCESSFUL' }), true);
  });

  it('agrees with the order itself: ahead exactly when the order would take D1 report as news', () => {
    // The order applies reports along its own lattice (production-tracking); the comparison must not drift from it.
    const reports = [
      ...inProduction.map((stage) => op('op-1', stage, 'PENDING')),
      op('op-1', 'CARD_SHIPPED', 'SUCCESSFUL'),
      op('op-1', 'CARD_PROD_EXCEPTION', 'FAILED'),
      op('op-1', 'DATA_EXCEPTION', 'FAILED'),
      op('op-1', 'CARD_PROD_CANCELED', 'FAILED'),
    ];
    for (const orderStage of [undefined, ...inProduction]) {
      for (const report of reports) {
        const production = newProductionState();
        trackOperation(production, 'op-1');
        if (orderStage !== undefined) applyReport(production, op('op-1', orderStage, 'PENDING'), 'notification', 'T0');
        const before = production.stage;
        const changed = applyReport(production, report, 'reconcile', 'T1') && production.stage !== before;
        const ahead = isD1Ahead(
          { status: 'IN_PRODUCTION', stage: orderStage },
          { stage: report.details.status, status: report.status },
        );
        assert.equal(ahead, changed, `order at ${orderStage ?? '(none)'}, D1 at ${report.details.status}`);
      }
    }
  });
});

describe("reconciliation: D1's report of one order", () => {
  it("keeps the order's PRODUCE operation and the verdicts since it started, in D1's order", () => {
    const earlier = op('op-0', 'CARD_SHIPPED', 'SUCCESSFUL', { startTime: '2025-01-01T00:00:00Z' });
    const oldVerdict = op('upd-0', 'CARD_PROD_DONE', 'SUCCESSFUL', {
      operation: 'UPDATE_ORDER',
      startTime: '2025-01-02T00:00:00Z',
    });
    const produce = op('op-1', 'CARD_SHIPPED', 'SUCCESSFUL');
    const verdict = op('upd-1', 'CARD_PROD_ONGOING', 'FAILED', {
      operation: 'UPDATE_ORDER',
      startTime: '2026-11-21T00:00:00Z',
    });
    const pending = op('upd-2', 'CARD_PROD_ONGOING', 'PENDING', {
      operation: 'UPDATE_ORDER',
      startTime: '2026-11-22T00:00:00Z',
    });
    const report = d1ReportFor([earlier, oldVerdict, verdict, produce, pending], 'op-1');
    assert.equal(report.produce, produce);
    assert.deepEqual(report.operations, [verdict, produce]);
  });

  it('finds nothing when D1 has no operation under the order id', () => {
    assert.deepEqual(d1ReportFor([op('op-0', 'CARD_SHIPPED', 'SUCCESSFUL')], 'op-1'), {
      produce: undefined,
      operations: [],
    });
  });
});
