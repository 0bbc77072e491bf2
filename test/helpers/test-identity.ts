/**
 * The development identity provider as the tests run it: on a free loopback port, with accounts of known
 * passwords, a fresh signing key, and nothing logged.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { hashPassword, type Account } from '../../identity/accounts.js';
import { startDevIdentityServer, type DevIdentityServer } from '../../identity/server.js';
import { newSigningKey } from '../../identity/signing-key.js';

export async function startTestIdentity({
  client,
  audience,
  accounts,
}: {
  client: { clientId: string; clientSecret: string; redirectUris: string[] };
  audience: string;
  accounts: { username: string; password: string; groups: string[] }[];
}): Promise<DevIdentityServer> {
  const byName = new Map<string, Account>();
  for (const { username, password, groups } of accounts) {
    const passwordHash = await hashPassword(password);
    byName.set(username, { username, passwordHash, name: username, email: `${username}@example.com`, groups });
  }
  return startDevIdentityServer({
    issuer: undefined,
    host: '127.0.0.1',
    port: 0,
    client,
    audience,
    accounts: byName,
    signingKey: await newSigningKey(),
    cookieKeys: [randomBytes(32).toString('base64url')],
    tokenTtlSeconds: 600,
    logger: pino({ level: 'silent' }),
  });
}
