import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEMO_CLI_ORDER_STEP_MS, demoFaults, demoOrders } from '../../scripts/lib/demo-orders.js';
import { FaultState, faultsPatchSchema } from '../../simulator/faults.js';

describe('demo simulator settings', () => {
  const faults = new FaultState();
  faults.merge(faultsPatchSchema.parse(demoFaults));
  const order = (cardId: string) => ({ issuerId: 'ISSUER0001', cardId, cardProductId: 'P1' });

  it('keeps the simulator step delay for every scripted demo order', () => {
    for (const demo of demoOrders) assert.equal(faults.productionStepMs(order(demo.cardId)), undefined, demo.label);
  });

  it('keeps an order placed from the CLI in production long enough to accelerate, redirect or cancel it', () => {
    assert.equal(faults.productionStepMs(order('crd_example_0001')), DEMO_CLI_ORDER_STEP_MS);
    // Redirects are refused from CARD_PROD_DONE, four steps in: that must be a minute at least.
    assert.ok(4 * DEMO_CLI_ORDER_STEP_MS >= 60_000);
    assert.ok(5 * DEMO_CLI_ORDER_STEP_MS <= 150_000, 'and it still ships within a couple of minutes');
  });
});
