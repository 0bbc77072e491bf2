import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { operationSchema, type Operation } from '../../d1/report-schemas.js';
import { FaultState, type FaultsPatch } from '../../simulator/faults.js';
import { OrderStore } from '../../simulator/orders.js';
import { ISSUER_ID, ManualClock, startSimulator, type TestSimulator } from './support.js';

const STEP_MS = 1_000;
const cardId = () => `card-${randomUUID().slice(0, 8)}`;

/** An order store on a manual clock, every operation it emits kept (checked against D1's operation schema). */
function storeWith(patch: FaultsPatch = {}) {
  const clock = new ManualClock();
  const faults = new FaultState();
  faults.merge(patch);
  const emitted: Operation[] = [];
  const store = new OrderStore({
    clock,
    stepDelayMs: STEP_MS,
    faults,
    onOperation: (issuerId, operation) => {
      assert.equal(issuerId, ISSUER_ID);
      emitted.push(operationSchema.parse(operation));
    },
  });
  const order = (card: string) => {
    const result = store.submit({
      issuerId: ISSUER_ID,
      cardId: card,
      issuerRequestId: `req-${randomUUID()}`,
      cardProductId: 'PRD_VISA_DEBIT',
    });
    assert.equal(result.kind, 'created');
    return result.kind === 'created' ? result.operationId : '';
  };
  const steps = (count: number) => clock.advance(count * STEP_MS);
  const of = (card: string) => emitted.filter((operation) => operation.cardId === card);
  /** `details.status/shipment.status` of each emitted operation of the card. */
  const trail = (card: string) =>
    of(card).map((operation) => `${operation.details.status}/${operation.details.shipment?.status ?? '-'}`);
  return { clock, store, faults, emitted, order, steps, of, trail };
}

const PRODUCTION = ['CARD_PROD_REQUESTED', 'DATA_PREPARED', 'CARD_PROD_READY', 'CARD_PROD_ONGOING', 'CARD_PROD_DONE'];
const produced = PRODUCTION.map((status) => `${status}/-`);

describe('simulator after shipment: carrier updates and returns', () => {
  it('reports nothing after CARD_SHIPPED with the default knobs', () => {
    const { order, steps, emitted, trail } = storeWith();
    const card = cardId();
    order(card);
    steps(5);
    assert.deepEqual(trail(card), [...produced, 'CARD_SHIPPED/PICKED_UP']);
    steps(20);
    assert.equal(emitted.length, 6, 'no operation after the shipment, 20 steps later');
  });

  it('reports each shipmentUpdates status one step apart: same SUCCESSFUL CARD_SHIPPED operation, same endTime', () => {
    const { order, steps, of, trail, clock } = storeWith({ shipmentUpdates: ['IN_TRANSIT', 'DELIVERED'] });
    const card = cardId();
    const operationId = order(card);
    steps(5);
    const shippedAt = new Date(clock.now()).toISOString();
    steps(1);
    assert.deepEqual(trail(card).slice(5), ['CARD_SHIPPED/PICKED_UP', 'CARD_SHIPPED/IN_TRANSIT']);
    steps(1);
    assert.deepEqual(trail(card), [
      ...produced,
      'CARD_SHIPPED/PICKED_UP',
      'CARD_SHIPPED/IN_TRANSIT',
      'CARD_SHIPPED/DELIVERED',
    ]);
    const [shipped, inTransit, delivered] = of(card).slice(5);
    for (const operation of [shipped, inTransit, delivered]) {
      assert.equal(operation?.operationId, operationId);
      assert.equal(operation?.operation, 'PRODUCE');
      assert.equal(operation?.status, 'SUCCESSFUL');
      assert.equal(operation?.endTime, shippedAt, 'endTime stays the shipment time');
      assert.equal(operation?.details.shipment?.carrier, shipped?.details.shipment?.carrier);
      assert.equal(operation?.details.shipment?.trackingNumber, shipped?.details.shipment?.trackingNumber);
      assert.equal(operation?.details.shipment?.trackingUrl, shipped?.details.shipment?.trackingUrl);
    }
    assert.equal(inTransit?.details.shipment?.message, 'In transit');
    assert.equal(delivered?.details.shipment?.message, 'Delivered');
    steps(20);
    assert.equal(of(card).length, 8, 'nothing after the last update');
  });

  it('reports a returnCardIds card CARD_RETURNED one step after its last update, and takes a new order for it', () => {
    const { order, steps, of, trail, store, clock } = storeWith({
      shipmentUpdates: ['IN_TRANSIT'],
      returnCardIds: ['card-returned'],
    });
    const operationId = order('card-returned');
    const kept = cardId();
    order(kept);
    steps(5);
    const shippedAt = new Date(clock.now()).toISOString();
    steps(2);
    assert.deepEqual(trail('card-returned').slice(5), [
      'CARD_SHIPPED/PICKED_UP',
      'CARD_SHIPPED/IN_TRANSIT',
      'CARD_RETURNED/RETURNED_TO_SENDER',
    ]);
    assert.deepEqual(trail(kept).slice(5), ['CARD_SHIPPED/PICKED_UP', 'CARD_SHIPPED/IN_TRANSIT'], 'other cards arrive');
    const returned = of('card-returned').at(-1);
    assert.equal(returned?.operationId, operationId);
    assert.equal(returned?.status, 'SUCCESSFUL');
    assert.equal(returned?.endTime, shippedAt);
    assert.match(String(returned?.details.shipment?.message), /^Returned to sender/);
    assert.ok(returned?.details.shipment?.trackingNumber);
    assert.equal(store.list().find((summary) => summary.cardId === 'card-returned')?.detailsStatus, 'CARD_RETURNED');

    const again = order('card-returned');
    assert.notEqual(again, operationId);
    steps(5);
    assert.equal(
      of('card-returned')
        .filter((operation) => operation.operationId === again)
        .at(-1)?.details.status,
      'CARD_SHIPPED',
    );
  });

  it('returns a card without shipment updates one step after CARD_SHIPPED', () => {
    const { order, steps, trail } = storeWith({ returnCardIds: ['card-back'] });
    order('card-back');
    steps(5);
    assert.equal(trail('card-back').at(-1), 'CARD_SHIPPED/PICKED_UP');
    steps(1);
    assert.deepEqual(trail('card-back').slice(5), ['CARD_SHIPPED/PICKED_UP', 'CARD_RETURNED/RETURNED_TO_SENDER']);
  });

  it('returns only the orders in returnIssuerRequestIds: the re-shipment of the card, a new order, arrives', () => {
    const { steps, store, trail } = storeWith({ returnIssuerRequestIds: ['req-first'] });
    const submit = (issuerRequestId: string) =>
      store.submit({ issuerId: ISSUER_ID, cardId: 'card-reship', issuerRequestId, cardProductId: 'PRD_VISA_DEBIT' });
    submit('req-first');
    steps(6);
    assert.equal(trail('card-reship').at(-1), 'CARD_RETURNED/RETURNED_TO_SENDER');
    assert.equal(submit('req-first--r1').kind, 'created');
    steps(10);
    assert.equal(trail('card-reship').at(-1), 'CARD_SHIPPED/PICKED_UP', 'the re-shipment is not returned');
  });

  it('holds holdCardIds cards at CARD_PROD_ONGOING while they are listed, then goes on', () => {
    const faults = { holdCardIds: ['card-held'] };
    const held = storeWith(faults);
    held.order('card-held');
    const other = cardId();
    held.order(other);
    held.steps(20);
    assert.equal(held.trail('card-held').at(-1), 'CARD_PROD_ONGOING/-', 'held 16 steps past CARD_PROD_ONGOING');
    assert.equal(held.trail(other).at(-1), 'CARD_SHIPPED/PICKED_UP', 'other cards are not held');
    assert.equal(held.store.update(ISSUER_ID, 'card-held', { type: 'CANCEL' }).kind, 'created');
    held.steps(1);
    assert.equal(held.trail('card-held').at(-1), 'CARD_PROD_CANCELED/-', 'a cancel finds it in production');
    // Released: the next step goes on.
    const released = storeWith(faults);
    released.order('card-held');
    released.steps(10);
    released.faults.merge({ holdCardIds: [] });
    released.steps(2);
    assert.deepEqual(released.trail('card-held').slice(-2), ['CARD_PROD_DONE/-', 'CARD_SHIPPED/PICKED_UP']);
  });

  it('draws returnRate once per order when it ships, the same way for the same seed', () => {
    const returned = (seed: number) => {
      const { order, steps, of } = storeWith({ returnRate: 0.5, seed });
      const cards = Array.from({ length: 20 }, (_, i) => `card-${i}`);
      cards.forEach(order);
      steps(6);
      return cards.filter((card) => of(card).at(-1)?.details.status === 'CARD_RETURNED');
    };
    const first = returned(7);
    assert.deepEqual(returned(7), first);
    assert.ok(first.length > 0 && first.length < 20, `some cards returned, not all (${first.length})`);
  });

  it('cancels pending carrier reports on reset', () => {
    const { order, steps, store, of, trail } = storeWith({ shipmentUpdates: ['IN_TRANSIT'], returnRate: 1 });
    const forgotten = cardId();
    order(forgotten);
    steps(5);
    const count = of(forgotten).length;
    store.reset();
    const fresh = cardId();
    order(fresh);
    steps(10);
    assert.equal(of(forgotten).length, count, 'no report for an order from before the reset');
    assert.deepEqual(trail(fresh).slice(5), [
      'CARD_SHIPPED/PICKED_UP',
      'CARD_SHIPPED/IN_TRANSIT',
      'CARD_RETURNED/RETURNED_TO_SENDER',
    ]);
  });
});

describe('simulator after shipment over HTTP', () => {
  const clock = new ManualClock();
  let sim: TestSimulator;

  before(async () => {
    sim = await startSimulator({ D1_SIM_STEP_DELAY: `${STEP_MS}ms` }, { clock });
  });
  after(() => sim?.close());
  beforeEach(() => sim.call('POST', '/__sim/reset'));

  const steps = (count: number) => clock.advance(count * STEP_MS);
  const produce = async (card: string) => (await sim.operations(card)).filter((op) => op.operation === 'PRODUCE');
  const summaries = async () =>
    (await sim.call('GET', '/__sim/orders')).json as unknown as { cardId: string; detailsStatus: string }[];

  it('shows the carrier updates and the return at the status endpoint, then takes a new order for the card', async () => {
    const card = cardId();
    const faults = await sim.call('POST', '/__sim/faults', {
      json: { shipmentUpdates: ['IN_TRANSIT', 'DELIVERED'], returnCardIds: [card] },
    });
    assert.equal(faults.status, 200);
    const { operationId } = (await sim.order(card)).json;
    const seen: string[] = [];
    for (let step = 0; step < 4; step++) {
      steps(step === 0 ? 5 : 1);
      const [operation] = await produce(card);
      assert.equal(operation?.operationId, operationId);
      assert.equal(operation?.status, 'SUCCESSFUL');
      seen.push(`${operation.details.status}/${operation.details.shipment?.status}`);
    }
    assert.deepEqual(seen, [
      'CARD_SHIPPED/PICKED_UP',
      'CARD_SHIPPED/IN_TRANSIT',
      'CARD_SHIPPED/DELIVERED',
      'CARD_RETURNED/RETURNED_TO_SENDER',
    ]);
    assert.equal((await summaries()).at(-1)?.detailsStatus, 'CARD_RETURNED');

    const again = await sim.order(card);
    assert.equal(again.status, 202);
    assert.notEqual(again.json.operationId, operationId);
    steps(5);
    const [first, second] = await produce(card);
    assert.equal(first?.details.status, 'CARD_RETURNED');
    assert.equal(second?.operationId, again.json.operationId);
    assert.equal(second?.details.status, 'CARD_SHIPPED');
  });

  it('refuses Pull & change on a returned card as already shipped', async () => {
    const card = cardId();
    await sim.call('POST', '/__sim/faults', { json: { returnCardIds: [card] } });
    await sim.order(card);
    steps(6);
    assert.equal((await produce(card))[0]?.details.status, 'CARD_RETURNED');
    const answer = await sim.call('POST', `${sim.cardPath(card)}/operations:updateOrder`, {
      token: await sim.token(),
      json: { type: 'CANCEL' },
    });
    steps(1);
    const refused = (await sim.operations(card)).find((op) => op.operationId === answer.json.operationId);
    assert.equal(refused?.status, 'FAILED');
    assert.equal(refused?.errorCode, 'ORDER_ALREADY_SHIPPED');
  });

  it('accepts the knobs only within bounds', async () => {
    const fields = async (json: unknown) => {
      const answer = await sim.call('POST', '/__sim/faults', { json });
      assert.equal(answer.status, 400);
      return (answer.json.fields as { field: string }[]).map((issue) => issue.field).sort();
    };
    assert.deepEqual(await fields({ shipmentUpdates: ['', 'X'.repeat(33)], returnRate: 1.5 }), [
      'returnRate',
      'shipmentUpdates.0',
      'shipmentUpdates.1',
    ]);
    assert.deepEqual(await fields({ shipmentUpdates: Array(11).fill('IN_TRANSIT') }), ['shipmentUpdates']);
  });
});
