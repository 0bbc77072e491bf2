/**
 * `npm run identity`: the development OpenID provider, for `npm run stack`, the compose file and the tests, until
 * SIGINT or SIGTERM. Its signing key is made on first start and kept in IDENTITY_SIGNING_KEY_FILE, so tokens and
 * the keys the codec server cached survive a restart. Production points the same settings at the issuer's own
 * provider instead.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createLogger } from '../common/logger.js';
import { loadAccounts } from './accounts.js';
import { loadIdentityConfig } from './config.js';
import { loadOrCreateSigningKey } from './signing-key.js';
import { startDevIdentityServer } from './server.js';

const config = loadIdentityConfig();
const logger = createLogger({ logLevel: config.logLevel }, 'identity');
const accounts = await loadAccounts(config.accountsFile, 'IDENTITY_ACCOUNTS_FILE');
const server = await startDevIdentityServer({
  issuer: config.issuer,
  host: config.host,
  port: config.port,
  client: config.client,
  audience: config.audience,
  accounts,
  signingKey: await loadOrCreateSigningKey(config.signingKeyFile),
  cookieKeys: [randomBytes(32).toString('base64url')],
  tokenTtlSeconds: config.tokenTtlSeconds,
  logger,
});
logger.info({ issuer: server.issuer, accounts: accounts.size }, 'identity provider listening');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().finally(() => logger.info('identity provider stopped')));
}
