/**
 * The campaign store the configuration names (`CAMPAIGN_STORE`), and the retention sweep that deletes the pages of
 * campaigns that ended more than `CAMPAIGN_STORE_RETENTION` ago.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Config } from '../config/config.js';
import { ConfigError } from '../common/errors.js';
import { campaignWorkflowId } from '../orders/workflow-id.js';
import { FileCampaignPageStore, type CampaignPageStore } from './page-store.js';
import { PostgresCampaignPageStore, type PostgresStoreSettings } from './pg-page-store.js';

type CampaignsConfig = Config['campaigns'];

/** The PostgreSQL settings with the password read from its file, when one is named. */
export function postgresStoreSettings(campaigns: CampaignsConfig): PostgresStoreSettings {
  const settings = campaigns.postgres;
  if (!settings) {
    throw new ConfigError([{ key: 'CAMPAIGN_STORE_URL', reason: 'is required with CAMPAIGN_STORE=postgres' }]);
  }
  const { passwordFile, ...rest } = settings;
  if (!passwordFile) return rest;
  try {
    // Read once when the store opens (a few bytes), so opening stays synchronous for the client's accessor.
    return { ...rest, password: readFileSync(passwordFile, 'utf8').trim() };
  } catch {
    throw new ConfigError([{ key: 'CAMPAIGN_STORE_PASSWORD_FILE', reason: 'cannot be read' }]);
  }
}

/** The configured store, with `codecs` sealing pages and failure records. Close it when done. */
export function openCampaignStore(campaigns: CampaignsConfig, codecs: readonly PayloadCodec[]): CampaignPageStore {
  if (campaigns.store === 'file') return new FileCampaignPageStore(campaigns.storeDir, codecs);
  return new PostgresCampaignPageStore(postgresStoreSettings(campaigns), codecs);
}

/** How the retention sweep went: campaigns whose pages it deleted, and pages deleted. */
export interface RetentionSweep {
  campaigns: number;
  pages: number;
}

/**
 * Deletes the pages of every campaign that ended more than `retentionMs` ago: its workflow closed then, or it is
 * gone (Temporal's own retention removed it) and the store has not been written for as long. Manifests and failure
 * records stay (no card data beyond ids; `campaign failures` reads them). A campaign still running, or whose end
 * cannot be told, keeps its pages.
 */
export async function sweepCampaignStore(
  store: CampaignPageStore,
  temporal: Client,
  retentionMs: number,
  now = Date.now(),
): Promise<RetentionSweep> {
  const swept: RetentionSweep = { campaigns: 0, pages: 0 };
  for (const campaign of await store.listCampaigns()) {
    if (campaign.pages === 0) continue;
    let endedAt: number | undefined;
    try {
      const { status, closeTime } = await temporal.workflow
        .getHandle(campaignWorkflowId(campaign.issuerId, campaign.campaignId))
        .describe();
      // A failed run may be started again on the same pages; it keeps them like a running one.
      if (status.name !== 'RUNNING' && status.name !== 'FAILED') endedAt = closeTime?.getTime();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      endedAt = campaign.updatedAt.getTime();
    }
    if (endedAt === undefined || now - endedAt < retentionMs) continue;
    swept.pages += await store.deletePages(campaign.issuerId, campaign.campaignId);
    swept.campaigns += 1;
  }
  return swept;
}
