/**
 * The stack's campaign store: a database of its own (`card_orders_campaigns`) in the stack's PostgreSQL, shared by
 * the CLI and every worker, so a page the CLI stores is found whichever worker takes it.
 *
 * @module
 */
import type { Config } from '../../config/config.js';
import { setUpCampaignStore } from '../../campaigns/pg-page-store.js';
import type { StackConfig } from './config.js';
import type { RunningPostgres } from './postgres.js';

export const CAMPAIGN_DATABASE = 'card_orders_campaigns';

/**
 * The settings every process of the stack gets (the CLI needs the same): the stack's PostgreSQL, its password read
 * from the stack's password file. A CAMPAIGN_STORE_URL set by the user wins.
 */
export function stackCampaignStoreEnv(
  config: Config,
  stack: StackConfig,
  postgres: RunningPostgres,
): Record<string, string> {
  if (config.campaigns.postgres) return {};
  return {
    CAMPAIGN_STORE: 'postgres',
    CAMPAIGN_STORE_URL: `postgres://${postgres.user}@${postgres.host}:${postgres.port}/${CAMPAIGN_DATABASE}`,
    CAMPAIGN_STORE_PASSWORD_FILE: stack.postgres.passwordFile,
  };
}

/** Creates the database and tables on the first start; finds them on the next. */
export function setUpStackCampaignStore(postgres: RunningPostgres): Promise<'created' | 'present'> {
  return setUpCampaignStore({
    host: postgres.host,
    port: postgres.port,
    database: CAMPAIGN_DATABASE,
    user: postgres.user,
    password: postgres.password,
    ssl: false,
    maxConnections: 2,
  });
}
