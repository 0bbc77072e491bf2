/**
 * A page the store does not have (a worker on another store or disk, a page deleted) fails its campaign visibly and
 * at once: the activity's failure is non-retryable, the campaign ends FAILED, and `campaign status` names the failure's
 * stable type. Before, the activity retried for ever on ENOENT and the campaign showed RUNNING.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, WorkflowFailedError } from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import { writeSampleCampaignFile } from '../../campaigns/sample-file.js';
import { campaignWorkflowId } from '../../client/campaigns.js';
import { startSagaStack, type SagaStack } from '../helpers/saga-stack.js';
import { eventually, uniqueName } from '../helpers/temporal.js';

describe('a campaign page missing from the store', () => {
  let stack: SagaStack;
  let dir: string;
  let storeDir: string;
  before(async () => {
    dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'campaign-missing-'));
    storeDir = path.join(dir, 'store');
    stack = await startSagaStack({
      serviceEnv: {
        CAMPAIGN_STORE_DIR: storeDir,
        D1_BATCH_SIZE: '4',
        CAMPAIGN_CHECK_INTERVAL: '200ms',
        CAMPAIGN_CHECK_MAX_INTERVAL: '1s',
      },
    });
  });
  after(async () => {
    await stack?.close();
  });

  it(
    'fails the campaign for good with CAMPAIGN_PAGE_MISSING, named by campaign status, not retried',
    { timeout: 120_000 },
    () =>
      stack.withWorker(async () => {
        const file = path.join(dir, 'renewals.csv');
        const prefix = uniqueName('miss').slice(0, 20);
        await writeSampleCampaignFile(file, { cards: 6, format: 'csv', issuerId: stack.config.d1.issuerId, prefix });
        const campaignId = uniqueName('missing').slice(0, 40);
        const issuerId = stack.config.d1.issuerId;
        await stack.client.ingestCampaign({ file, campaignId });
        // The second page is gone, as on a worker whose disk the CLI never wrote.
        await rm(path.join(storeDir, issuerId, campaignId, 'page-000001.bin'));
        await stack.client.startCampaign({ file, campaignId });

        const ended = await eventually(
          async () => {
            const status = await stack.client.getCampaign(campaignId);
            return status.state === 'FAILED' ? status : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 200, what: 'the campaign to fail' },
        );
        assert.equal(ended.failure?.type, 'CAMPAIGN_PAGE_MISSING');
        assert.match(ended.failure.message, /^Page 1 of campaign /);

        const handle = stack.client.temporal.workflow.getHandle(campaignWorkflowId(issuerId, campaignId));
        await assert.rejects(handle.result(), (err: unknown) => {
          assert.ok(err instanceof WorkflowFailedError);
          assert.ok(err.cause instanceof ActivityFailure);
          assert.equal(err.cause.retryState, RetryState.NON_RETRYABLE_FAILURE, 'failed at its first attempt');
          return true;
        });
      }),
  );
});
