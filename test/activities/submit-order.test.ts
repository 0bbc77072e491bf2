import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { toD1OrderRequest } from '../../activities/submit-order.js';
import { projectRoot } from '../../config/config.js';
import type { D1Client } from '../../d1/client.js';
import { orderRequestSchema } from '../../d1/schemas.js';
import { loadProgramCatalog, type ProgramCatalog } from '../../orders/program-catalog.js';
import { reorderRequestId } from '../../orders/reorder-id.js';
import type { CardOrder } from '../../orders/schema.js';
import { sampleOrder } from '../helpers/fixtures.js';

/** Not a real JWE: toD1OrderRequest and the order schema look at its shape only. */
const encryptedData = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y2lwaGVy.dGFn';

function cardOrder(overrides: Partial<CardOrder> = {}): CardOrder {
  const { sensitiveData: _clear, ...order } = sampleOrder('req-replacement-1');
  return { ...order, encryptedData, ...overrides };
}

const replacement = cardOrder({
  services: { issuance: 'REPLACEMENT', delivery: 'usps-imb' },
  replacesCardId: 'card-lost-1',
});

describe('toD1OrderRequest and the replaced card', () => {
  it('sends replacesCardId under the configured field only when the order names the card it replaces', () => {
    const body = toD1OrderRequest(replacement, 'req-replacement-1', 'oldCardId');
    assert.equal(body.oldCardId, 'card-lost-1');
    const { oldCardId: _sent, ...rest } = body;
    assert.deepEqual(rest, toD1OrderRequest(replacement, 'req-replacement-1'));
    assert.equal('replacesCardId' in body, false);

    // Never otherwise: not without the field configured, nor the field without a replaced card.
    const unconfigured = toD1OrderRequest(replacement, 'req-replacement-1');
    assert.equal('replacesCardId' in unconfigured, false);
    assert.equal('oldCardId' in unconfigured, false);
    // The strict D1 schema accepts it as it is: nothing of ours leaked into the body.
    assert.equal(orderRequestSchema.safeParse(unconfigured).success, true);

    const creation = toD1OrderRequest(cardOrder(), 'req-replacement-1', 'oldCardId');
    assert.equal('oldCardId' in creation, false);
    assert.equal(orderRequestSchema.safeParse(creation).success, true);
    assert.equal('oldCardId' in toD1OrderRequest(replacement, 'req-replacement-1', ''), false);
  });

  it('submitOrder sends the configured field to D1 through createActivities', async () => {
    const catalog = await loadProgramCatalog(path.join(projectRoot, 'config/program-catalog.json'));
    const sent: unknown[] = [];
    const d1 = {
      orderCard: (_issuerId: string, _cardId: string, body: unknown) => {
        sent.push(body);
        return Promise.resolve({ operationId: 'op-1' });
      },
    } as unknown as D1Client;
    const env = new MockActivityEnvironment();
    const input = { order: replacement, issuerRequestId: 'req-replacement-1' };

    await env.run(createActivities({ d1, catalog, replacesCardIdField: 'oldCardId' }).submitOrder, input);
    await env.run(createActivities({ d1, catalog }).submitOrder, input);
    assert.equal((sent[0] as Record<string, unknown>).oldCardId, 'card-lost-1');
    assert.equal('oldCardId' in (sent[1] as Record<string, unknown>), false);
  });
});

describe('submitOrder: decisions taken at placement stay taken', () => {
  /** A D1 that records what it was sent. */
  function recordingD1() {
    const sent: { cardId: string; body: Record<string, unknown> }[] = [];
    const d1 = {
      orderCard: (_issuerId: string, cardId: string, body: Record<string, unknown>) => {
        sent.push({ cardId, body });
        return Promise.resolve({ operationId: `op-${sent.length}` });
      },
    } as unknown as D1Client;
    return { d1, sent };
  }

  function submit(catalog: ProgramCatalog, order: CardOrder, issuerRequestId: string) {
    const { d1, sent } = recordingD1();
    // The refusals are expected: the environment's own "Activity failed" warnings would only be noise.
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
    const run = env.run(createActivities({ d1, catalog }).submitOrder, {
      order,
      issuerRequestId,
    });
    return { run, sent };
  }

  /** The typed failure a submit ended with (its `type` is our stable code). */
  async function failureOf(run: Promise<unknown>): Promise<ApplicationFailure> {
    const err = await run.then(
      () => assert.fail('the submit was expected to fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    return err;
  }

  let catalog: ProgramCatalog;
  /** The catalog after the program was taken out of it. */
  let withoutProgram: ProgramCatalog;
  /** The catalog after the program changed: another delivery method and other countries. */
  let changedProgram: ProgramCatalog;

  const order = cardOrder({ issuerRequestId: 'req-placed-1', cardId: 'card-placed-1' });
  /** A first-generation order: its id was placed with 60 characters, before re-orders reserved the last five. */
  const legacyId = 'legacy-order-'.padEnd(60, '0');
  const legacy = cardOrder({ issuerRequestId: legacyId, cardId: 'card-legacy-1' });

  before(async () => {
    catalog = await loadProgramCatalog(path.join(projectRoot, 'config/program-catalog.json'));
    const { PRD_VISA_DEBIT: program, ...others } = catalog.programs;
    assert.ok(program);
    withoutProgram = { programs: others };
    changedProgram = {
      programs: { ...others, PRD_VISA_DEBIT: { ...program, deliveryMethods: ['dhl'], destinationCountries: ['FR'] } },
    };
  });

  it('re-orders a first-generation order whose original id has 60 characters', async () => {
    assert.equal(legacyId.length, 60);
    // The first generation derives `{first 61 characters}-r{n}` (workflows/legacy), the current one `{id}--r{n}`.
    for (const derived of [`${legacyId.slice(0, 61)}-r1`, reorderRequestId(legacyId, 1)]) {
      const { run, sent } = submit(catalog, legacy, derived);
      assert.deepEqual(await run, { operationId: 'op-1' });
      assert.equal(sent.length, 1);
      assert.equal(sent[0]?.body.issuerRequestId, derived);
      assert.equal(orderRequestSchema.safeParse(sent[0]?.body).success, true, "the body meets D1's schema");
    }
  });

  it('refuses a derived id D1 would refuse as ERR_REORDER_ID_INVALID, naming why, before D1 hears of it', async () => {
    const tooLong = reorderRequestId(legacyId, 10);
    assert.equal(tooLong.length, 65);
    const { run, sent } = submit(catalog, legacy, tooLong);
    const failure = await failureOf(run);
    assert.equal(failure.type, 'ERR_REORDER_ID_INVALID');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /65 characters/);
    assert.match(failure.message, /64/);
    assert.ok(failure.message.includes(legacyId), 'names the order');
    assert.ok(!failure.message.includes(encryptedData), 'no card data');
    assert.equal(sent.length, 0);
  });

  it('re-orders and re-ships what was accepted after the program was removed or changed in the catalog', async () => {
    const reorder = reorderRequestId(order.issuerRequestId, 1);
    for (const changed of [withoutProgram, changedProgram]) {
      const { run, sent } = submit(changed, order, reorder);
      assert.deepEqual(await run, { operationId: 'op-1' });
      assert.equal(sent[0]?.body.cardProductId, 'PRD_VISA_DEBIT');
    }
    // A re-ship: the workflow swaps in the issuer's corrected address, which the program no longer ships to.
    const corrected = { ...order.shipment.deliveryAddress, line1: '1 Rue de Rivoli', countryCode: 'FR' };
    const reshipped = { ...order, shipment: { ...order.shipment, deliveryAddress: corrected } };
    const { run, sent } = submit(changedProgram, reshipped, reorderRequestId(order.issuerRequestId, 2));
    assert.deepEqual(await run, { operationId: 'op-1' });
    assert.deepEqual((sent[0]?.body.shipment as typeof order.shipment).deliveryAddress, corrected);
  });

  it("still holds a re-order or re-ship to D1's schema for the body", async () => {
    const badAddress = { ...order.shipment.deliveryAddress, countryCode: 'France' };
    const reshipped = { ...order, shipment: { ...order.shipment, deliveryAddress: badAddress } };
    const { run, sent } = submit(catalog, reshipped, reorderRequestId(order.issuerRequestId, 1));
    const failure = await failureOf(run);
    assert.equal(failure.type, 'ERR_ORDER_INVALID');
    assert.match(failure.message, /shipment\.deliveryAddress\.countryCode/);
    assert.ok(!failure.message.includes('France'), 'never the value');
    assert.equal(sent.length, 0);
  });

  it('still checks a first submission against its program and the rules of original ids', async () => {
    const refusals: [ProgramCatalog, CardOrder, RegExp][] = [
      [withoutProgram, order, /cardProductId: is not a program of this issuer/],
      [changedProgram, order, /services\.delivery: .*not allowed/],
      [changedProgram, order, /shipment\.deliveryAddress\.countryCode: .*not allowed/],
      [catalog, legacy, /issuerRequestId: must be at most 59 characters/],
      [catalog, cardOrder({ issuerRequestId: 'req-placed-2--r1' }), /issuerRequestId: must not end in --r<digits>/],
    ];
    for (const [programs, placed, reason] of refusals) {
      const { run, sent } = submit(programs, placed, placed.issuerRequestId);
      const failure = await failureOf(run);
      assert.equal(failure.type, 'ERR_ORDER_INVALID');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, reason);
      assert.equal(sent.length, 0, 'nothing reached D1');
    }
    // And the order as placed goes through.
    const { run } = submit(catalog, order, order.issuerRequestId);
    assert.deepEqual(await run, { operationId: 'op-1' });
  });
});
