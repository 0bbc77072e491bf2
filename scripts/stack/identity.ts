/**
 * The stack's sign-in: the development identity provider (`identity/`) with its two accounts (`operator`, who may
 * decode the stack's namespace, and `viewer`, who may not; see `identity/dev-accounts.ts`), and Web UI's client
 * secret, all made on first start. Production points Web UI and the codec server at the issuer's own provider instead.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { Config } from '../../config/config.js';
import { ensureDevAccounts, OPERATOR_GROUP, readOrCreate } from '../../identity/dev-accounts.js';
import { nodeArgs } from '../lib/entries.js';
import type { Spawner, StackConfig } from './config.js';

/** The codec server's resource identifier: the audience of the access tokens. */
export const CODEC_AUDIENCE = 'urn:d1-card-orders:codec-server';
const UI_CLIENT_ID = 'temporal-web-ui';

export interface StackIdentity {
  issuer: string;
  clientId: string;
  clientSecret: string;
  audience: string;
  accountsFile: string;
  /** `username password` lines, for the operator to sign in with. */
  passwordsFile: string;
  signingKeyFile: string;
}

/** Makes the accounts, their passwords and the client secret unless they exist. */
export async function prepareStackIdentity(stack: StackConfig): Promise<{ identity: StackIdentity; created: boolean }> {
  const dir = stack.identity.dir;
  const accounts = await ensureDevAccounts(dir, 'stack.localhost');
  const secret = await readOrCreate(path.join(dir, 'web-ui-client-secret'), () =>
    Promise.resolve(randomBytes(24).toString('base64url')),
  );
  return {
    identity: {
      issuer: `http://127.0.0.1:${stack.identity.port}`,
      clientId: UI_CLIENT_ID,
      clientSecret: secret.text.trim(),
      audience: CODEC_AUDIENCE,
      accountsFile: accounts.accountsFile,
      passwordsFile: accounts.passwordsFile,
      signingKeyFile: path.join(dir, 'signing-key.json'),
    },
    created: accounts.created,
  };
}

/** Web UI's login callback, at the address the stack prints. */
export function webUiCallbackUrl(stack: StackConfig): string {
  return `http://localhost:${stack.ui.port}/auth/sso/callback`;
}

/** The codec server's settings for people signed in through the stack's provider, and its HTTPS files. */
export function stackCodecServerEnv(
  config: Config,
  identity: StackIdentity,
  tls: { cert: string; key: string },
): Record<string, string> {
  return {
    CODEC_SERVER_OIDC_ISSUER: identity.issuer,
    CODEC_SERVER_OIDC_AUDIENCE: identity.audience,
    CODEC_SERVER_OIDC_NAMESPACES: JSON.stringify({ [OPERATOR_GROUP]: [config.temporal.namespace] }),
    CODEC_SERVER_TLS_CERT_FILE: tls.cert,
    CODEC_SERVER_TLS_KEY_FILE: tls.key,
  };
}

/** Starts the provider under `supervisor`; resolves once it serves its discovery document. */
export async function startStackIdentity(
  stack: StackConfig,
  identity: StackIdentity,
  supervisor: Spawner,
  entry: string,
): Promise<void> {
  supervisor.spawn('identity', process.execPath, nodeArgs(entry), {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    IDENTITY_HOST: '127.0.0.1',
    IDENTITY_PORT: String(stack.identity.port),
    IDENTITY_ISSUER: identity.issuer,
    IDENTITY_ACCOUNTS_FILE: identity.accountsFile,
    IDENTITY_SIGNING_KEY_FILE: identity.signingKeyFile,
    IDENTITY_CLIENT_ID: identity.clientId,
    IDENTITY_CLIENT_SECRET: identity.clientSecret,
    IDENTITY_REDIRECT_URIS: [webUiCallbackUrl(stack), webUiCallbackUrl(stack).replace('localhost', '127.0.0.1')].join(
      ',',
    ),
    IDENTITY_AUDIENCE: identity.audience,
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const answer = await request(`${identity.issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(2_000),
      });
      await answer.body.dump();
      if (answer.statusCode === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`The identity provider did not answer at ${identity.issuer} within 30 s`);
    await delay(250);
  }
}
