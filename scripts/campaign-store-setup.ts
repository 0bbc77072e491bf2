/**
 * `npm run campaign:store-setup`: creates the PostgreSQL campaign store's database and tables when
 * `CAMPAIGN_STORE=postgres` (nothing to do for the folder store). Idempotent: run again, it changes nothing. Also run
 * by `npm run stack` and by the compose stack's `campaign-store-setup` service before any worker starts.
 *
 * @module
 */
import { pathToFileURL } from 'node:url';
import { setUpCampaignStore } from '../campaigns/pg-page-store.js';
import { postgresStoreSettings } from '../campaigns/store.js';
import { loadConfig, type Config } from '../config/config.js';

/** Sets the configured store up; resolves to a line saying what it found. */
export async function setUpConfiguredCampaignStore(config: Config): Promise<string> {
  if (config.campaigns.store === 'file')
    return `campaign store: folder ${config.campaigns.storeDir} (nothing to set up)`;
  const settings = postgresStoreSettings(config.campaigns);
  const outcome = await setUpCampaignStore(settings);
  // Host, port and database only: never the URL (it may hold the password).
  return `campaign store: ${outcome} PostgreSQL ${settings.host}:${settings.port}/${settings.database}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const say = (message: string) => process.stderr.write(`${message}\n`);
  try {
    say(await setUpConfiguredCampaignStore(loadConfig()));
  } catch (err) {
    const { message, code } = err as Error & { code?: unknown };
    say(`The campaign store could not be set up: ${message}${typeof code === 'string' ? ` (${code})` : ''}`);
    process.exitCode = 1;
  }
}
