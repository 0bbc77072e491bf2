import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ManualClock, startSimulator, type TestSimulator } from './support.js';

const STEP_MS = 1_000;
const cardId = () => `card-${randomUUID().slice(0, 8)}`;

describe('simulator production lifecycle', () => {
  const clock = new ManualClock();
  let sim: TestSimulator;

  before(async () => {
    sim = await startSimulator({ D1_SIM_STEP_DELAY: `${STEP_MS}ms` }, { clock });
  });
  after(() => sim?.close());
  beforeEach(() => sim.call('POST', '/__sim/reset'));

  const operations = (id: string) => sim.operations(id);
  const produce = async (id: string) => (await operations(id)).filter((op) => op.operation === 'PRODUCE');
  const latestProduce = async (id: string) => (await produce(id)).at(-1);
  const steps = (count: number) => clock.advance(count * STEP_MS);
  const outcomes = (rules: unknown[]) => sim.call('POST', '/__sim/faults', { json: { outcomes: rules } });
  const update = async (id: string, body: unknown, headers: Record<string, string> = {}) =>
    sim.call('POST', `${sim.cardPath(id)}/operations:updateOrder`, { token: await sim.token(), json: body, headers });
  const updatesOf = async (id: string) => (await operations(id)).filter((op) => op.operation === 'UPDATE_ORDER');

  it('takes an order through every step to SUCCESSFUL/CARD_SHIPPED with shipment details', async () => {
    const id = cardId();
    const { operationId } = (await sim.order(id)).json;
    const seen: string[] = [];
    for (let step = 0; step < 6; step++) {
      const operation = await latestProduce(id);
      seen.push(`${operation?.status}/${operation?.details.status}`);
      steps(1);
    }
    assert.deepEqual(seen, [
      'PENDING/CARD_PROD_REQUESTED',
      'PENDING/DATA_PREPARED',
      'PENDING/CARD_PROD_READY',
      'PENDING/CARD_PROD_ONGOING',
      'PENDING/CARD_PROD_DONE',
      'SUCCESSFUL/CARD_SHIPPED',
    ]);
    const shipped = await latestProduce(id);
    assert.equal(shipped?.operationId, operationId);
    assert.ok(shipped?.endTime);
    assert.match(String(shipped?.details.dueDate), /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(shipped?.details.productionSite);
    assert.equal(shipped?.details.shipment?.carrier, 'fedex');
    assert.equal(shipped?.details.shipment?.status, 'PICKED_UP');
    assert.match(
      String(shipped?.details.shipment?.trackingUrl),
      new RegExp(String(shipped?.details.shipment?.trackingNumber)),
    );
    steps(3);
    assert.deepEqual(await latestProduce(id), shipped, 'a shipped order stays shipped');
  });

  it('times production steps by the first matching productionDelays rule; a rule without stepMs keeps the configured one', async () => {
    const [fast, slow] = [cardId(), cardId()];
    await sim.call('POST', '/__sim/faults', {
      json: { productionDelays: [{ match: { cardId: fast } }, { match: {}, stepMs: 10 * STEP_MS }] },
    });
    await sim.order(fast);
    await sim.order(slow);
    steps(5);
    assert.equal((await latestProduce(fast))?.details.status, 'CARD_SHIPPED');
    assert.equal((await latestProduce(slow))?.details.status, 'CARD_PROD_REQUESTED', 'half a slow step');
    steps(5);
    assert.equal((await latestProduce(slow))?.details.status, 'DATA_PREPARED');
    const changed = await update(slow, { type: 'ACCELERATE' });
    assert.equal(changed.status, 202);
    steps(1);
    const verdict = (await updatesOf(slow)).at(-1);
    assert.equal(verdict?.status, 'SUCCESSFUL', 'a Pull & change answer keeps the configured step');
    clock.advance(40 * STEP_MS);
    assert.equal((await latestProduce(slow))?.details.status, 'CARD_SHIPPED');
  });

  it('lets a new issuerRequestId order the card again once the first order ended', async () => {
    const id = cardId();
    await sim.order(id);
    steps(5);
    const second = await sim.order(id);
    assert.equal(second.status, 202);
    assert.deepEqual(
      (await produce(id)).map((op) => op.details.status),
      ['CARD_SHIPPED', 'CARD_PROD_REQUESTED'],
    );
  });

  it('fails an order matching a DATA_EXCEPTION rule right after CARD_PROD_REQUESTED, only `times` times', async () => {
    await outcomes([
      { match: { cardProductId: 'PRD_OUT' }, at: 'DATA_EXCEPTION', errorCode: 'OUT_OF_STOCK', times: 1 },
    ]);
    const id = cardId();
    const overrides = { cardProductId: 'PRD_OUT' };
    await sim.order(id, { overrides });
    steps(1);
    const failed = await latestProduce(id);
    assert.equal(failed?.status, 'FAILED');
    assert.equal(failed?.details.status, 'DATA_EXCEPTION');
    assert.equal(failed?.errorCode, 'OUT_OF_STOCK');
    assert.ok(failed?.error && failed.details.reason && failed.endTime);

    await sim.order(id, { overrides });
    steps(5);
    assert.equal((await latestProduce(id))?.details.status, 'CARD_SHIPPED', 'the re-order succeeds');
  });

  it('fails an order matching a CARD_PROD_EXCEPTION rule after CARD_PROD_ONGOING', async () => {
    const id = cardId();
    await outcomes([
      { match: { cardId: id }, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED', reason: 'chip error' },
    ]);
    await sim.order(id);
    steps(3);
    assert.equal((await latestProduce(id))?.details.status, 'CARD_PROD_ONGOING');
    steps(1);
    const failed = await latestProduce(id);
    assert.equal(failed?.status, 'FAILED');
    assert.equal(failed?.details.status, 'CARD_PROD_EXCEPTION');
    assert.equal(failed?.errorCode, 'PERSONALIZATION_FAILED');
    assert.equal(failed?.details.reason, 'chip error');
  });

  describe('Pull & change', () => {
    it('cancels an order not yet shipped: UPDATE_ORDER SUCCESSFUL and PRODUCE ends CARD_PROD_CANCELED', async () => {
      const id = cardId();
      const { operationId: produceId } = (await sim.order(id)).json;
      steps(2);
      const answer = await update(id, { type: 'CANCEL' });
      assert.equal(answer.status, 202);
      const updateId = answer.json.operationId;
      const pending = (await operations(id)).find((op) => op.operationId === updateId);
      assert.equal(pending?.operation, 'UPDATE_ORDER');
      assert.equal(pending?.status, 'PENDING');

      steps(1);
      const [produced, updated] = await operations(id);
      assert.equal(produced?.operationId, produceId);
      assert.equal(produced?.status, 'FAILED');
      assert.equal(produced?.details.status, 'CARD_PROD_CANCELED');
      assert.equal(produced?.errorCode, 'CANCELED_BY_ISSUER');
      assert.equal(updated?.status, 'SUCCESSFUL');
      steps(5);
      assert.equal((await latestProduce(id))?.details.status, 'CARD_PROD_CANCELED', 'production does not resume');
    });

    it('refuses a CANCEL after shipment with ORDER_ALREADY_SHIPPED, and a second CANCEL with ORDER_NOT_CANCELABLE', async () => {
      const shippedCard = cardId();
      await sim.order(shippedCard);
      steps(5);
      const late = (await update(shippedCard, { type: 'CANCEL' })).json.operationId;
      steps(1);
      const refused = (await operations(shippedCard)).find((op) => op.operationId === late);
      assert.equal(refused?.operation, 'UPDATE_ORDER');
      assert.equal(refused?.status, 'FAILED');
      assert.equal(refused?.errorCode, 'ORDER_ALREADY_SHIPPED');
      assert.equal((await latestProduce(shippedCard))?.status, 'SUCCESSFUL');

      const canceledCard = cardId();
      await sim.order(canceledCard);
      await update(canceledCard, { type: 'CANCEL' });
      const again = (await update(canceledCard, { type: 'CANCEL' })).json.operationId;
      steps(1);
      const second = (await operations(canceledCard)).find((op) => op.operationId === again);
      assert.equal(second?.errorCode, 'ORDER_NOT_CANCELABLE');
    });

    it('accepts ACCELERATE before shipment (moving the due date up) and refuses REDIRECT after it', async () => {
      const id = cardId();
      await sim.order(id);
      steps(1);
      const dueBefore = (await latestProduce(id))?.details.dueDate;
      await update(id, { type: 'ACCELERATE' });
      steps(1);
      const accelerated = (await operations(id)).find((op) => op.operation === 'UPDATE_ORDER');
      assert.equal(accelerated?.status, 'SUCCESSFUL');
      assert.ok(String((await latestProduce(id))?.details.dueDate) < String(dueBefore));
      const [order] = (await sim.call('GET', '/__sim/orders')).json as unknown as { updates: string[] }[];
      assert.deepEqual(order?.updates, ['ACCELERATE']);

      steps(4);
      const redirect = await update(id, {
        type: 'REDIRECT',
        newDeliveryAddress: { line1: '1 Other St', city: 'Boston', zipCode: '02101', countryCode: 'US' },
      });
      steps(1);
      const refused = (await operations(id)).find((op) => op.operationId === redirect.json.operationId);
      assert.equal(refused?.status, 'FAILED');
      assert.equal(refused?.errorCode, 'ORDER_ALREADY_SHIPPED');
    });

    it('decides ACCELERATE and REDIRECT by stage (a made card keeps its address), or as the verdict knob forces', async () => {
      const boston = { line1: '1 Other St', city: 'Boston', zipCode: '02101', countryCode: 'US' };
      const verdictOf = async (id: string, body: unknown) => {
        const { operationId } = (await update(id, body)).json;
        steps(1);
        const op = (await operations(id)).find((o) => o.operationId === operationId);
        return [op?.status, op?.errorCode];
      };
      const early = cardId();
      await sim.order(early);
      assert.deepEqual(await verdictOf(early, { type: 'REDIRECT', newDeliveryAddress: boston }), [
        'SUCCESSFUL',
        undefined,
      ]);

      const made = cardId();
      await sim.order(made);
      steps(4);
      assert.equal((await latestProduce(made))?.details.status, 'CARD_PROD_DONE');
      assert.deepEqual(await verdictOf(made, { type: 'REDIRECT', newDeliveryAddress: boston }), [
        'FAILED',
        'ADDRESS_LOCKED',
      ]);

      const forced = cardId();
      await sim.order(forced);
      await sim.call('POST', '/__sim/faults', {
        json: { updateOrderVerdict: 'REJECT', updateOrderRejectCode: 'NO_EXPRESS' },
      });
      assert.deepEqual(await verdictOf(forced, { type: 'ACCELERATE' }), ['FAILED', 'NO_EXPRESS']);
      await sim.call('POST', '/__sim/faults', { json: { updateOrderVerdict: 'ACCEPT' } });
      steps(3);
      assert.deepEqual(
        await verdictOf(forced, { type: 'ACCELERATE_AND_REDIRECT', newDeliveryAddress: boston }),
        ['SUCCESSFUL', undefined],
        'forced past the stage rule',
      );
      await sim.call('POST', '/__sim/faults', { json: { updateOrderVerdict: 'BY_STAGE' } });
    });

    it('answers a repeated Idempotency-Key for the same card with the original 202 and operationId, acting once', async () => {
      const id = cardId();
      await sim.order(id);
      const key = { 'Idempotency-Key': `cancel-${randomUUID()}` };
      const first = await update(id, { type: 'CANCEL' }, key);
      const again = await update(id, { type: 'CANCEL' }, key);
      assert.equal(first.status, 202);
      assert.equal(again.status, 202);
      assert.equal(again.json.operationId, first.json.operationId);
      assert.deepEqual(
        (await updatesOf(id)).map((op) => op.operationId),
        [first.json.operationId],
      );
      steps(1);
      assert.equal((await updatesOf(id))[0]?.status, 'SUCCESSFUL', 'the one cancel is not refused as a second one');
      const [order] = (await sim.call('GET', '/__sim/orders')).json as unknown as { updates: string[] }[];
      assert.deepEqual(order?.updates, ['CANCEL']);

      // The key names a request of this card only; without a key every request is a new one.
      const other = cardId();
      await sim.order(other);
      assert.notEqual((await update(other, { type: 'ACCELERATE' }, key)).json.operationId, first.json.operationId);
      await update(other, { type: 'ACCELERATE' });
      await update(other, { type: 'ACCELERATE' });
      assert.equal((await updatesOf(other)).length, 3);
    });

    it('answers 409 REQUEST_ID_REUSED to a key reused with another body, and takes the same body in any key order', async () => {
      const id = cardId();
      await sim.order(id);
      const boston = { line1: '1 Other St', city: 'Boston', zipCode: '02101', countryCode: 'US' };
      const key = { 'idempotency-key': randomUUID() };
      const first = await update(id, { type: 'REDIRECT', newDeliveryAddress: boston }, key);
      assert.equal(first.status, 202);
      const reordered = { countryCode: 'US', zipCode: '02101', city: 'Boston', line1: '1 Other St' };
      const same = await update(id, { newDeliveryAddress: reordered, type: 'REDIRECT' }, key);
      assert.equal(same.json.operationId, first.json.operationId);

      const reused = await update(id, { type: 'REDIRECT', newDeliveryAddress: { ...boston, city: 'Salem' } }, key);
      assert.equal(reused.status, 409);
      assert.equal(reused.json.errorCode, 'REQUEST_ID_REUSED');
      assert.ok(!reused.text.includes('Salem') && !reused.text.includes('Other St'), 'the answer echoes the address');
      assert.equal((await update(id, { type: 'CANCEL' }, key)).status, 409);
      assert.equal((await updatesOf(id)).length, 1);
    });

    it('answers 400 naming the Idempotency-Key header when it breaks the id pattern, doing nothing', async () => {
      const id = cardId();
      await sim.order(id);
      const answer = await update(id, { type: 'CANCEL' }, { 'Idempotency-Key': 'not an id!' });
      assert.equal(answer.status, 400);
      assert.equal(answer.json.errorCode, 'INVALID_FIELD');
      assert.deepEqual(
        (answer.json.fields as { field: string }[]).map((issue) => issue.field),
        ['idempotency-key'],
      );
      assert.equal((await updatesOf(id)).length, 0);
    });

    it('answers 404 for a card never ordered and 400 naming newDeliveryAddress for a REDIRECT without one', async () => {
      const unknown = await update(cardId(), { type: 'CANCEL' });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.json.errorCode, 'CARD_NOT_FOUND');
      const id = cardId();
      await sim.order(id);
      const invalid = await update(id, { type: 'REDIRECT' });
      assert.equal(invalid.status, 400);
      assert.deepEqual(invalid.json.fields, [{ field: 'newDeliveryAddress', reason: 'is required for REDIRECT' }]);
    });
  });
});
