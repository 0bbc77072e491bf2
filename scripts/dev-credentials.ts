/**
 * `npm run dev-credentials -- <dir>`: what the compose file's development login needs, made once in `<dir>` (a
 * volume): the development identity provider's two accounts with random passwords (shown once, kept in
 * `<dir>/passwords.txt`), and an HTTPS certificate for the codec server at localhost from a local CA (`<dir>/tls`),
 * which the operator's browser trusts once. `npm run stack` makes the same under `.data/stack`. Never for
 * production: there the issuer's own provider and certificate take their place.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureDevAccounts } from '../identity/dev-accounts.js';
import { ensureStackTls } from './stack/tls.js';

const dir = path.resolve(process.argv[2] ?? '.data/dev-credentials');
const accounts = await ensureDevAccounts(dir, 'compose.localhost');
const tls = await ensureStackTls(dir);
const say = (message: string) => process.stdout.write(`${message}\n`);
say(`Accounts: ${accounts.accountsFile}${accounts.created ? ' (made now)' : ''}`);
if (accounts.created) {
  say(`Sign in to Web UI as (shown once; also in ${accounts.passwordsFile}):`);
  say((await readFile(accounts.passwordsFile, 'utf8')).trimEnd());
}
say(`Codec server certificate: ${tls.files.cert}; its CA, to trust once: ${tls.files.caCert}`);
