import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { writeSampleCampaignFile } from '../../campaigns/sample-file.js';
import { CampaignConflictError } from '../../common/errors.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, uniqueName } from '../helpers/temporal.js';

/** Bulk campaigns end to end: dev server, simulator (D1's batch API), webhook, worker. */
describe('bulk campaigns', () => {
  let stack: SagaStack;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'campaign-e2e-'));
    stack = await startSagaStack({
      serviceEnv: {
        CAMPAIGN_STORE_DIR: path.join(dir, 'store'),
        D1_BATCH_SIZE: '25',
        CAMPAIGN_CHECK_INTERVAL: '200ms',
        CAMPAIGN_CHECK_MAX_INTERVAL: '1s',
        ORDER_NOTIFICATION_TIMEOUT: '30s',
      },
      // Steps of a second keep a single order in flight while the campaign's first batch arrives.
      simulatorEnv: { D1_SIM_STEP_DELAY: '1s' },
    });
  });
  after(async () => {
    await stack?.close();
  });

  async function sampleFile(name: string, cards: number, invalidLines: number[] = []) {
    const file = path.join(dir, name);
    const prefix = uniqueName('c').slice(0, 20);
    await writeSampleCampaignFile(file, {
      cards,
      format: 'csv',
      issuerId: stack.config.d1.issuerId,
      prefix,
      invalidLines,
    });
    return { file, id: (i: number) => `${prefix}-${String(i).padStart(6, '0')}` };
  }

  async function simulatorStats(): Promise<{ orderRequests: number; batchRequests: number }> {
    const response = await request(`${stack.config.d1.baseUrl}/__sim/stats`);
    return (await response.body.json()) as { orderRequests: number; batchRequests: number };
  }

  it(
    'orders every valid card once through D1 batches, fails only the refused ones, and completes',
    { timeout: 180_000 },
    () =>
      stack.withWorker(async () => {
        const { file, id } = await sampleFile('mixed.csv', 60, [4]);
        // Card 10 has an order of its own in flight at D1 (the batch refuses it: ORDER_IN_PROGRESS); request id 20
        // is already used by a different order (ORDER_CONFLICT); card 30 fails in production.
        const blocker = stack.newOrder({ cardId: id(10) });
        await stack.client.orderCard(blocker);
        const taken = stack.newOrder({ cardId: id(20), issuerRequestId: id(20) });
        await stack.client.orderCard(taken);
        await eventually(async () =>
          (await stack.client.getOrder(blocker.issuerRequestId)).operationId ? true : undefined,
        );
        await stack.d1.faults({
          outcomes: [{ match: { cardId: id(30) }, at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' }],
        });
        const before = await simulatorStats();
        const campaignId = uniqueName('renewals').slice(0, 40);

        const started = await stack.client.startCampaign({ file, campaignId, skipInvalid: true });
        assert.deepEqual([started.total, started.valid, started.invalid], [60, 59, 1]);
        assert.ok(['RUNNING', 'COMPLETED'].includes(started.state), started.state);
        // The same file again: nothing new. Another file under the same id: refused.
        const again = await stack.client.startCampaign({ file, campaignId, skipInvalid: true });
        assert.equal(again.valid, 59);
        const other = await sampleFile('other.csv', 3);
        await assert.rejects(stack.client.startCampaign({ file: other.file, campaignId }), CampaignConflictError);

        const done = await eventually(
          async () => {
            const status = await stack.client.getCampaign(campaignId);
            return status.state === 'COMPLETED' && status.counts.SHIPPED === 56 ? status : undefined;
          },
          { timeoutMs: 150_000, intervalMs: 1_000, what: 'the campaign to complete' },
        );
        assert.deepEqual(done.counts, { SHIPPED: 56, FAILED: 1, COMPENSATED: 1, CONFLICT: 1 });
        assert.deepEqual([done.campaign?.accepted, done.campaign?.refused, done.campaign?.conflicts], [57, 1, 1]);

        const failures = await stack.client.campaignFailures(campaignId);
        assert.deepEqual(failures.map((f) => [f.issuerRequestId, f.errorCode]).sort(), [
          [id(10), 'ORDER_IN_PROGRESS'],
          [id(20), 'ORDER_CONFLICT'],
          [id(30), 'PERSONALIZATION_FAILED'],
        ]);
        assert.doesNotMatch(JSON.stringify(failures), /4000000|Main St/, 'no card data or address in failures');

        // One batch call per page of 25 (3 pages), no single-order call from the campaign, each card once at D1.
        const after = await simulatorStats();
        assert.deepEqual(
          [after.batchRequests - before.batchRequests, after.orderRequests - before.orderRequests],
          [3, 0],
        );
        const atD1 = (await stack.d1.orders()).filter((o) => o.issuerRequestId.startsWith(id(0).slice(0, -6)));
        const ids = atD1.map((o) => o.issuerRequestId);
        assert.equal(new Set(ids).size, ids.length, 'no card ordered twice');
        assert.equal(ids.length, 57 + 1, 'the campaign cards D1 took, and the conflicting order placed alone');
      }),
  );
});
