import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultFaults, FaultState } from '../../simulator/faults.js';
import { startSimulator, type TestSimulator } from './support.js';

describe('FaultState', () => {
  it('fires rates of exactly 0 and 1 the same way every time, whatever the seed', () => {
    const faults = new FaultState();
    for (let i = 0; i < 100; i++) {
      assert.equal(faults.chance(0), false);
      assert.equal(faults.chance(1), true);
    }
  });

  it('repeats the same decisions for the same seed', () => {
    const decisions = (seed: number) => {
      const faults = new FaultState();
      faults.merge({ seed });
      return Array.from({ length: 50 }, () => faults.chance(0.5));
    };
    assert.deepEqual(decisions(42), decisions(42));
    assert.notDeepEqual(decisions(42), decisions(43));
  });

  it('uses an outcome rule only `times` times, and the first matching rule wins', () => {
    const faults = new FaultState();
    faults.merge({
      outcomes: [
        { match: { cardProductId: 'P1' }, at: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK', times: 2 },
        { match: {}, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' },
      ],
    });
    const order = { issuerId: 'ISSUER0001', cardId: 'c1', cardProductId: 'P1' };
    const codes = Array.from({ length: 3 }, () => faults.takeOutcome(order)?.errorCode);
    assert.deepEqual(codes, ['OUT_OF_STOCK', 'OUT_OF_STOCK', 'PERSONALIZATION_FAILED']);
  });
});

describe('simulator fault endpoints', () => {
  let sim: TestSimulator;
  before(async () => {
    sim = await startSimulator({ D1_SIM_FAULTS: '{"latencyMs":5}' });
  });
  after(() => sim?.close());

  const faults = async () => (await sim.call('GET', '/__sim/faults')).json;

  it('starts from D1_SIM_FAULTS over the defaults', async () => {
    assert.deepEqual(await faults(), { ...defaultFaults, latencyMs: 5 });
  });

  it('merges each POST into the faults in force and answers the result', async () => {
    await sim.call('POST', '/__sim/faults', { json: { errorRate: 0.25 } });
    const answer = await sim.call('POST', '/__sim/faults', { json: { batchSize: 5, reorderNotifications: true } });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json, await faults());
    assert.equal(answer.json.errorRate, 0.25);
    assert.equal(answer.json.batchSize, 5);
    assert.equal(answer.json.latencyMs, 5);
  });

  it('refuses an invalid patch with 400 naming every bad knob, and keeps the faults in force', async () => {
    const before = await faults();
    const answer = await sim.call('POST', '/__sim/faults', {
      json: { errorRate: 2, chaos: true, outcomes: [{ at: 'LATER', errorCode: 'X' }] },
    });
    assert.equal(answer.status, 400);
    const fields = (answer.json.fields as { field: string }[]).map((issue) => issue.field).sort();
    assert.deepEqual(fields, ['chaos', 'errorRate', 'outcomes.0.at']);
    assert.deepEqual(await faults(), before);
    const form = await sim.call('POST', '/__sim/faults', { form: { errorRate: '1' } });
    assert.equal(form.status, 415);
  });

  it('clears faults, orders and tokens on reset', async () => {
    await sim.call('POST', '/__sim/faults', { json: { errorRate: 0 } });
    const token = await sim.token();
    assert.equal((await sim.order('card-reset', { token })).status, 202);

    assert.equal((await sim.call('POST', '/__sim/reset')).status, 204);
    assert.deepEqual(await faults(), { ...defaultFaults });
    assert.deepEqual((await sim.call('GET', '/__sim/orders')).json, []);
    const stale = await sim.call('GET', `${sim.cardPath('card-reset')}/productionStatus`, { token });
    assert.equal(stale.status, 401);
    const fresh = await sim.call('GET', `${sim.cardPath('card-reset')}/productionStatus`, { token: await sim.token() });
    assert.equal(fresh.status, 404);
  });

  it('answers health checks and serves only the public half of its encryption key', async () => {
    assert.equal((await sim.call('GET', '/healthz')).status, 200);
    assert.equal(sim.encryptionJwk.d, undefined);
    assert.equal(sim.encryptionJwk.kid, 'd1-demo-enc-1');
    assert.equal(sim.encryptionJwk.crv, 'P-256');
  });
});
