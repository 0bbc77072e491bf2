import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'undici';
import { CardOrdersClient } from '../../client/card-orders-client.js';
import { campaignWorkflowId } from '../../client/campaigns.js';
import { loadConfig, projectRoot } from '../../config/config.js';
import { workflowTaskBacklog } from '../../temporal/connection.js';
import { writeSampleCampaignFile } from '../../campaigns/sample-file.js';
import { CampaignConflictError } from '../../campaigns/errors.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { campaignIdKey, cardIdKey, cardOrderStatusKey } from '../../rules/contracts/search-attributes.js';
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
        // A page of 25 and at most 30 cards in flight: each page waits for the one before to ship.
        CAMPAIGN_MAX_IN_FLIGHT: '30',
        // More than 5 card-order tasks waiting for a worker hold a campaign's next page back.
        CAMPAIGN_MAX_CARD_BACKLOG: '5',
        CAMPAIGN_PAGE_HEARTBEAT_TIMEOUT: '3s',
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
        // Card 10 has an order in flight at D1 that we no longer track (its workflow ended: an open one would refuse
        // the line at ingestion), so the batch refuses it: ORDER_IN_PROGRESS. Request id 20 is already used by a
        // different order (ORDER_CONFLICT); card 30 fails in production.
        const blocker = stack.newOrder({ cardId: id(10) });
        await stack.client.orderCard(blocker);
        const taken = stack.newOrder({ cardId: id(20), issuerRequestId: id(20) });
        await stack.client.orderCard(taken);
        await eventually(async () =>
          (await stack.client.getOrder(blocker.issuerRequestId)).operationId ? true : undefined,
        );
        await stack.client.temporal.workflow
          .getHandle(cardOrderWorkflowId(stack.config.d1.issuerId, blocker.issuerRequestId))
          .terminate('tracked no more: only D1 has the order');
        await eventually(async () => {
          const open = `${cardIdKey.name} = '${id(10)}' AND CloseTime IS NULL`;
          return (await stack.client.temporal.workflow.count(open)).count === 0 ? true : undefined;
        });
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

        await stack.recordWorkflowHistory(
          campaignWorkflowId(stack.config.d1.issuerId, campaignId),
          'campaign',
          'batches-with-refusals-completed',
        );
        await stack.recordHistory(id(0), 'campaign-card-shipped');
        await stack.recordHistory(id(10), 'campaign-card-refused-in-batch');

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

  /** Card-order workflow tasks waiting for a worker, as the server counts them. */
  const cardBacklog = async () =>
    (await workflowTaskBacklog(
      stack.client.temporal,
      stack.config.temporal.namespace,
      stack.config.temporal.taskQueue,
    )) ?? 0;

  /** The campaign's status once `probe` holds. */
  const campaignWhen = (
    campaignId: string,
    probe: (s: Awaited<ReturnType<SagaStack['client']['getCampaign']>>) => boolean,
    what: string,
  ) =>
    eventually(
      async () => {
        const status = await stack.client.getCampaign(campaignId);
        return probe(status) ? status : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, what },
    );

  it(
    'pauses within seconds and resumes from the same page; cancel --pull stops and cancels what D1 can',
    { timeout: 180_000 },
    () =>
      stack.withWorker(async () => {
        const { file, id } = await sampleFile('paced.csv', 100);
        const campaignId = uniqueName('paced').slice(0, 40);
        await stack.client.startCampaign({ file, campaignId });
        await campaignWhen(campaignId, (s) => (s.campaign?.pagesSubmitted ?? 0) >= 1, 'the first page');
        const paused = await stack.client.pauseCampaign(campaignId);
        assert.deepEqual([paused.outcome, paused.campaign?.state], ['DONE', 'PAUSED']);
        const pagesAtPause = paused.campaign?.pagesSubmitted ?? 0;
        // Its cards all ship while it is paused: room for more pages, and still none goes out.
        const drained = await campaignWhen(
          campaignId,
          (s) => (s.counts.SHIPPED ?? 0) >= pagesAtPause * 25,
          'the paused pages to ship',
        );
        assert.equal(drained.campaign?.pagesSubmitted, pagesAtPause, 'no page while paused');
        assert.equal(drained.state, 'PAUSED');
        // An open campaign, paused with its cards reported: what a later deploy must replay.
        await stack.recordWorkflowHistory(
          campaignWorkflowId(stack.config.d1.issuerId, campaignId),
          'campaign',
          'paused-with-cards-reported-open',
        );

        const resumed = await stack.client.resumeCampaign(campaignId);
        assert.equal(resumed.campaign?.state, 'RUNNING');
        await campaignWhen(campaignId, (s) => (s.campaign?.pagesSubmitted ?? 0) > pagesAtPause, 'a page after resume');
        const cancelled = await stack.client.cancelCampaign(campaignId, { pull: true });
        assert.equal(cancelled.outcome, 'DONE');
        const end = await campaignWhen(campaignId, (s) => s.state === 'CANCELLED', 'the pull');
        // The pull took its cards from the stored pages: the newest ones too, which visibility may not list yet.
        const cancelledCards = `${campaignIdKey.name} = '${campaignId}' AND ${cardOrderStatusKey.name} = 'CANCELLED'`;
        await eventually(
          async () => ((await stack.client.temporal.workflow.count(cancelledCards)).count > 0 ? true : undefined),
          { timeoutMs: 60_000, what: 'pulled cards cancelled' },
        );
        assert.ok((end.campaign?.pagesSubmitted ?? 0) < 4, 'the last pages were never submitted');
        await eventually(
          async () => {
            const atD1 = (await stack.d1.orders()).filter((o) => o.issuerRequestId.startsWith(id(0).slice(0, -6)));
            return atD1.some((o) => o.updates.includes('CANCEL')) ? true : undefined;
          },
          { timeoutMs: 30_000, what: 'cards in production asked to cancel at D1' },
        );
        assert.deepEqual(await stack.client.resumeCampaign(campaignId), {
          outcome: 'REFUSED',
          reason: 'CAMPAIGN_ALREADY_CANCELLED',
          campaign: end.campaign,
        });
      }),
  );

  it(
    'orders every card once when the worker is killed during a page: another takes the page over',
    { timeout: 180_000 },
    async () => {
      const { file, id } = await sampleFile('crash.csv', 20);
      const campaignId = uniqueName('crash').slice(0, 40);
      let before = await simulatorStats();
      // D1 answers the batch slowly, so the worker dies with the page under way.
      await stack.d1.faults({ latencyMs: 4_000 });
      const worker = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers/main.ts')], {
        cwd: projectRoot,
        env: { ...stack.envVars, CAMPAIGN_STORE_DIR: path.join(dir, 'store') },
        stdio: 'ignore',
      });
      try {
        before = await simulatorStats();
        await stack.client.startCampaign({ file, campaignId });
        await eventually(
          async () => ((await simulatorStats()).batchRequests > before.batchRequests ? true : undefined),
          {
            timeoutMs: 60_000,
            what: 'the batch to reach D1',
          },
        );
      } finally {
        worker.kill('SIGKILL');
        await once(worker, 'exit');
      }
      await stack.d1.faults({ latencyMs: 0 });
      await stack.withWorker(async () => {
        const done = await campaignWhen(campaignId, (s) => s.state === 'COMPLETED', 'the campaign to complete');
        assert.deepEqual(done.counts, { SHIPPED: 20 });
        assert.deepEqual([done.campaign?.started, done.campaign?.accepted], [20, 20], 'each card counted once');
      });
      // The killed attempt's batch and the retried page's: two calls, each card in both, one D1 order per card.
      const after = await simulatorStats();
      assert.deepEqual(
        [after.batchRequests - before.batchRequests, after.orderRequests - before.orderRequests],
        [2, 0],
      );
      const atD1 = (await stack.d1.orders()).filter((o) => o.issuerRequestId.startsWith(id(0).slice(0, -6)));
      assert.equal(atD1.length, 20);
      assert.equal(new Set(atD1.map((o) => o.cardId)).size, 20, 'one D1 order per card');
      const submissions = new Set(atD1.map((o) => o.submissions));
      assert.ok(
        submissions.size === 1 && [1, 2].includes([...submissions][0] ?? 0),
        `every card submitted by the batches only, alike: ${[...submissions].join(', ')}`,
      );
    },
  );

  it(
    'gives up a page whose D1 call keeps failing, names it, and cancels without waiting behind it',
    { timeout: 120_000 },
    () =>
      stack.withWorker(async () => {
        const { file } = await sampleFile('down.csv', 10);
        const campaignId = uniqueName('down').slice(0, 40);
        await stack.d1.faults({ errorRate: 1 });
        try {
          await stack.client.startCampaign({ file, campaignId });
          const failing = await campaignWhen(
            campaignId,
            (s) => (s.campaign?.pageFailure?.failures ?? 0) >= 1,
            'the page to give up for now',
          );
          assert.deepEqual([failing.state, failing.campaign?.pageFailure?.page], ['RUNNING', 0]);
          assert.equal(failing.campaign?.pagesSubmitted, 0);
          const cancelled = await stack.client.cancelCampaign(campaignId);
          assert.equal(cancelled.outcome, 'DONE');
          // Not behind the page's retries: within its wait, which the cancel cuts short.
          await eventually(
            async () => ((await stack.client.getCampaign(campaignId)).state === 'CANCELLED' ? true : undefined),
            { timeoutMs: 10_000, intervalMs: 200, what: 'the cancel to take effect' },
          );
        } finally {
          await stack.d1.faults({ errorRate: 0 });
        }
      }),
  );

  it(
    'runs on a queue of its own and holds its pages while the workers are behind with card tasks, then goes on',
    { timeout: 120_000 },
    async () => {
      const { file } = await sampleFile('backlog.csv', 25);
      const campaignId = uniqueName('backlog').slice(0, 40);
      const orders = Array.from({ length: 8 }, () => stack.newOrder());
      await stack.withCampaignWorkerOnly(async () => {
        // No worker takes the cards' queue: 8 single orders wait there, more than the bound of 5.
        for (const order of orders) await stack.client.orderCard(order);
        // The server answers its statistics from a cache of a few seconds: once they show the orders waiting.
        await eventually(async () => ((await cardBacklog()) >= orders.length ? true : undefined), {
          what: "the orders in the server's backlog",
          timeoutMs: 30_000,
          intervalMs: 500,
        });
        await stack.client.startCampaign({ file, campaignId });
        const handle = stack.client.temporal.workflow.getHandle(
          campaignWorkflowId(stack.config.d1.issuerId, campaignId),
        );
        assert.equal((await handle.describe()).taskQueue, `${stack.config.temporal.taskQueue}-campaigns`);
        // The campaign answers all the same, and sends no page onto a queue its workers cannot keep up with.
        const held = await campaignWhen(
          campaignId,
          (s) => s.campaign?.heldByBacklog !== undefined,
          'the first page held by the backlog',
        );
        assert.equal(held.campaign?.pagesSubmitted, 0);
        assert.ok((held.campaign?.heldByBacklog ?? 0) >= orders.length, `backlog ${held.campaign?.heldByBacklog}`);
        const paused = await stack.client.pauseCampaign(campaignId);
        assert.deepEqual([paused.outcome, paused.campaign?.state], ['DONE', 'PAUSED']);
      });
      // The cards' worker back: it takes the single orders first, then the page goes; cancelled, the campaign ends.
      await stack.withWorker(async () => {
        // Right after the worker change, the server may refuse the first try (the campaign's task failed over to
        // the new worker): the client tries again.
        assert.equal((await stack.client.resumeCampaign(campaignId)).outcome, 'DONE');
        await campaignWhen(campaignId, (s) => s.campaign?.pagesSubmitted === 1, 'the page once the workers caught up');
        for (const order of orders) {
          await eventually(async () => (await stack.client.getOrder(order.issuerRequestId)).operationId);
        }
        assert.equal((await stack.client.cancelCampaign(campaignId)).outcome, 'DONE');
        await campaignWhen(campaignId, (s) => s.state === 'CANCELLED', 'the cancel');
        await stack.recordWorkflowHistory(
          campaignWorkflowId(stack.config.d1.issuerId, campaignId),
          'campaign',
          'held-by-backlog-cancelled',
        );
      });
    },
  );

  it(
    'counts the cards another campaign already ordered as ALREADY_ORDERED, orders none again, and completes',
    { timeout: 180_000 },
    () =>
      stack.withWorker(async () => {
        const { file, id } = await sampleFile('twice.csv', 6);
        const first = uniqueName('first').slice(0, 40);
        await stack.client.startCampaign({ file, campaignId: first });
        await campaignWhen(first, (s) => s.state === 'COMPLETED', 'the first campaign');
        // Its cards closed at shipment (no delivery window here): the file is accepted again, under another id.
        const before = await simulatorStats();
        const second = uniqueName('second').slice(0, 40);
        await stack.client.startCampaign({ file, campaignId: second });
        const done = await campaignWhen(second, (s) => s.state === 'COMPLETED', 'the second campaign');
        assert.deepEqual(done.counts, { ALREADY_ORDERED: 6 });
        assert.deepEqual([done.campaign?.started, done.campaign?.alreadyOrdered], [0, 6]);
        const after = await simulatorStats();
        assert.deepEqual(
          [after.batchRequests - before.batchRequests, after.orderRequests - before.orderRequests],
          [0, 0],
        );
        const failures = await stack.client.campaignFailures(second);
        assert.deepEqual(
          failures.map((f) => [f.issuerRequestId, f.errorCode, f.reason]),
          [0, 1, 2, 3, 4, 5].map((i) => [
            id(i),
            'ALREADY_ORDERED',
            `already ordered by ${cardOrderWorkflowId(stack.config.d1.issuerId, id(i))}`,
          ]),
        );
      }),
  );

  it('orders each card with a single-order call for an issuer without the batch API', { timeout: 120_000 }, () =>
    stack.withWorker(async () => {
      const config = loadConfig({ ...stack.envVars, D1_SINGLE_ORDER_ISSUERS: stack.config.d1.issuerId });
      const single = await CardOrdersClient.connect({ config, connection: stack.env.connection });
      const { file } = await sampleFile('single.csv', 5);
      const campaignId = uniqueName('single').slice(0, 40);
      const before = await simulatorStats();
      await single.startCampaign({ file, campaignId });
      const done = await campaignWhen(campaignId, (s) => s.state === 'COMPLETED', 'the campaign to complete');
      assert.deepEqual(done.counts, { SHIPPED: 5 });
      const after = await simulatorStats();
      assert.deepEqual(
        [after.batchRequests - before.batchRequests, after.orderRequests - before.orderRequests],
        [0, 5],
      );
    }),
  );
});
