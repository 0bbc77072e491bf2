import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import { toD1OrderRequest } from '../../activities/submit-order.js';
import { projectRoot } from '../../common/config.js';
import type { D1Client } from '../../d1/client.js';
import { orderRequestSchema } from '../../d1/schemas.js';
import { loadProgramCatalog } from '../../orders/program-catalog.js';
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
