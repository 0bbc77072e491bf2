/**
 * The development identity provider's settings (`npm run identity`), read once and validated like every config.
 * It is a stand-in for the issuer's own OpenID provider, for `npm run stack`, the compose file and the tests.
 *
 * @module
 */
import path from 'node:path';
import { z } from 'zod';
import { durationMs } from '../common/duration.js';
import { logLevel, projectRoot } from '../config/config.js';
import { ConfigError } from '../common/errors.js';

const envSchema = z.object({
  IDENTITY_HOST: z.string().min(1).default('127.0.0.1'),
  IDENTITY_PORT: z.coerce.number().int().min(0).max(65535).default(9099),
  /** The issuer URL everyone reaches it at (browser, UI server, codec server). @default http://127.0.0.1:<port> */
  IDENTITY_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  /** The accounts file (see `identity/accounts.ts`). Required. */
  IDENTITY_ACCOUNTS_FILE: z.string().min(1),
  /** Where its signing key (a private JWK) is kept, made on first start. */
  IDENTITY_SIGNING_KEY_FILE: z.string().min(1),
  /** The one client, Web UI's server: id, secret and its login callback URLs (comma-separated). */
  IDENTITY_CLIENT_ID: z.string().min(1),
  IDENTITY_CLIENT_SECRET: z.string().min(16, 'must be at least 16 characters'),
  IDENTITY_REDIRECT_URIS: z
    .string()
    .min(1)
    .transform((value) =>
      value
        .split(',')
        .map((uri) => uri.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.url()).min(1)),
  /** The resource the access tokens are for: the codec server's CODEC_SERVER_OIDC_AUDIENCE. */
  IDENTITY_AUDIENCE: z.string().min(1),
  /** Access and ID token lifetime. @default 1h */
  IDENTITY_TOKEN_TTL: durationMs.default(3_600_000),
  LOG_LEVEL: logLevel.default('info'),
});

export function loadIdentityConfig(env: Record<string, string | undefined> = process.env) {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ key: issue.path.join('.') || '(env)', reason: issue.message })),
    );
  }
  const e = parsed.data;
  return {
    host: e.IDENTITY_HOST,
    port: e.IDENTITY_PORT,
    issuer: e.IDENTITY_ISSUER,
    accountsFile: path.resolve(projectRoot, e.IDENTITY_ACCOUNTS_FILE),
    signingKeyFile: path.resolve(projectRoot, e.IDENTITY_SIGNING_KEY_FILE),
    client: {
      clientId: e.IDENTITY_CLIENT_ID,
      clientSecret: e.IDENTITY_CLIENT_SECRET,
      redirectUris: e.IDENTITY_REDIRECT_URIS,
    },
    audience: e.IDENTITY_AUDIENCE,
    tokenTtlSeconds: Math.round(e.IDENTITY_TOKEN_TTL / 1000),
    logLevel: e.LOG_LEVEL,
  };
}
export type IdentityConfig = ReturnType<typeof loadIdentityConfig>;
