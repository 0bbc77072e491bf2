import assert from 'node:assert/strict';
import { once } from 'node:events';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { heartbeatIntervalMs, withHeartbeat } from '../../activities/heartbeat.js';
import { createActivities, type CardOrderActivities } from '../../activities/index.js';
import { projectRoot } from '../../config/config.js';
import type { D1Client } from '../../d1/client.js';
import { loadProgramCatalog } from '../../orders/program-catalog.js';
import { sampleOrder } from '../helpers/fixtures.js';

/** Not a real JWE: the order schema looks at its shape only. */
const encryptedData = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y2lwaGVy.dGFn';
const card = { issuerId: 'ISSUER0001', cardId: 'card-slow-1' };
const HEARTBEATS_WHILE_SLOW = 3;

/**
 * A D1 that answers only once the activity has heartbeated `HEARTBEATS_WHILE_SLOW` times: an activity that does not
 * heartbeat while it waits on D1 never gets its answer (and the test times out).
 */
function slowD1(env: MockActivityEnvironment): D1Client {
  let heartbeats = 0;
  const heartbeated = new Promise<void>((resolve) => {
    env.on('heartbeat', () => {
      heartbeats += 1;
      if (heartbeats >= HEARTBEATS_WHILE_SLOW) resolve();
    });
  });
  const answer =
    <T>(value: T) =>
    async () => {
      await heartbeated;
      return value;
    };
  const produce = {
    operationId: 'op-produce',
    operation: 'PRODUCE',
    status: 'PENDING',
    cardId: card.cardId,
    issuerRequestId: 'req-slow-1',
    details: { status: 'CARD_PROD_ONGOING' },
  };
  return {
    orderCard: answer({ operationId: 'op-produce' }),
    getProductionStatus: answer({ operations: [produce] }),
    updateOrder: answer({ operationId: 'op-update' }),
  } as unknown as D1Client;
}

describe('activity heartbeats', () => {
  it('heartbeats while a D1 call waits, and a cancel reaches the call through its abort signal', async () => {
    const env = new MockActivityEnvironment();
    let heartbeats = 0;
    env.on('heartbeat', () => (heartbeats += 1));
    const running = env.run(() =>
      withHeartbeat(async (signal) => {
        await once(signal, 'abort');
        throw signal.reason;
      }),
    );
    env.cancel();
    await assert.rejects(running);
    assert.ok(heartbeats >= 1, `${heartbeats} heartbeats`);
  });

  it('beats well within the heartbeat timeout its caller set, and every 5 s without one', () => {
    assert.equal(heartbeatIntervalMs(undefined), 5_000);
    assert.equal(heartbeatIntervalMs(20_000), 5_000);
    assert.equal(heartbeatIntervalMs(1_000), 250);
    assert.equal(heartbeatIntervalMs(100), 50);
  });

  const catalog = loadProgramCatalog(path.join(projectRoot, 'config/program-catalog.json'));
  const { sensitiveData: _clear, ...order } = sampleOrder('req-slow-1');
  const inputs: { [K in keyof CardOrderActivities]?: Parameters<CardOrderActivities[K]>[0] } = {
    submitOrder: { order: { ...order, encryptedData }, issuerRequestId: 'req-slow-1' },
    pollOrderStatus: { ...card, operationId: 'op-produce', changeIds: [] },
    fetchOrderStatus: card,
    requestOrderCancel: card,
    requestOrderChange: { ...card, request: { type: 'ACCELERATE' } },
    cancelD1Order: { ...card, issuerRequestIds: ['req-slow-1'] },
  };
  for (const [name, input] of Object.entries(inputs)) {
    it(`${name} heartbeats while D1 is slow to answer`, { timeout: 10_000 }, async () => {
      const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 200 });
      const activities = createActivities({ d1: slowD1(env), catalog: await catalog });
      const activity = activities[name as keyof CardOrderActivities] as (input: unknown) => Promise<unknown>;
      assert.ok(await env.run(activity, input));
    });
  }
});
