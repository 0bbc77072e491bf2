/**
 * The webhook's OAuth 2.0 side: D1 presents client credentials (Basic auth) and gets a short-lived JWT, which each
 * notification then carries as a Bearer token. Tokens are HS256 JWTs signed with a secret shared by every webhook
 * replica, bound to the issuer ids the client may notify for.
 *
 * @module
 */
import { createHash, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { ConfigError } from '../common/errors.js';
import { loadSecret } from '../common/secrets.js';
import { issuerIdSchema } from '../d1/schemas.js';

const TOKEN_ISSUER = 'd1-card-orders/webhook';
const TOKEN_AUDIENCE = 'd1-card-orders/notifications';

const clientsSchema = z
  .array(
    z.strictObject({
      clientId: z.string().min(1),
      clientSecret: z.string().min(16, 'must be at least 16 characters'),
      issuerIds: z.array(issuerIdSchema).min(1),
    }),
  )
  .min(1);
export type WebhookClient = z.infer<typeof clientsSchema>[number];

/** The simulator's public demo credentials: accepted only with DEMO_MODE=true. */
export const demoWebhookClient = { clientId: 'd1-simulator', clientSecret: 'd1-simulator-secret' } as const;

/**
 * The clients allowed a token: WEBHOOK_CLIENTS. Fails closed: unset, it is a {@link ConfigError} unless DEMO_MODE is
 * on, which allows the simulator's demo credentials for D1_ISSUER_ID; those credentials are refused outside the demo
 * even when WEBHOOK_CLIENTS names them.
 *
 * @throws {ConfigError} naming WEBHOOK_CLIENTS (and DEMO_MODE) when the webhook must not start.
 */
export function webhookClients(config: Config): WebhookClient[] {
  if (!config.webhook.clients) {
    if (config.demoMode) return [{ ...demoWebhookClient, issuerIds: [config.d1.issuerId] }];
    throw new ConfigError([
      {
        key: 'WEBHOOK_CLIENTS',
        reason:
          'must be set: JSON [{clientId, clientSecret, issuerIds}] of the D1 clients allowed a token (only the local ' +
          'demo, DEMO_MODE=true, runs without it, on public demo credentials)',
      },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(config.webhook.clients);
  } catch {
    throw new ConfigError([{ key: 'WEBHOOK_CLIENTS', reason: 'is not JSON' }]);
  }
  const parsed = clientsSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ key: `WEBHOOK_CLIENTS.${issue.path.join('.')}`, reason: issue.message })),
    );
  }
  if (!config.demoMode) {
    const demo = parsed.data.findIndex(
      (client) =>
        client.clientId === demoWebhookClient.clientId || client.clientSecret === demoWebhookClient.clientSecret,
    );
    if (demo >= 0) {
      throw new ConfigError([
        {
          key: `WEBHOOK_CLIENTS.${demo}`,
          reason: 'uses the public demo credentials of the D1 simulator, allowed only with DEMO_MODE=true',
        },
      ]);
    }
  }
  return parsed.data;
}

/** Reads the signing secret. @throws {KeyMaterialError} when it is missing or shorter than 32 bytes. */
export function loadTokenSecret(source: Config['webhook']['tokenSecret']): Promise<Uint8Array> {
  return loadSecret(source, 'webhook token secret');
}

const digest = (value: string) => createHash('sha256').update(value).digest();

export interface IssuedWebhookToken {
  access_token: string;
  token_type: 'Bearer';
  /** A string, as D1's outbound OAuth contract shows it. */
  expires_in: string;
  expires_at: string;
}

export class WebhookTokens {
  /** Imported once: given raw bytes, jose imports the HMAC key again on every sign and verify. */
  private readonly key: KeyObject;

  constructor(
    private readonly clients: readonly WebhookClient[],
    secret: Uint8Array,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createSecretKey(secret);
  }

  /** The client whose credentials these are, compared in constant time; undefined when none matches. */
  authenticate(clientId: string, clientSecret: string): WebhookClient | undefined {
    return this.clients.find(
      (client) =>
        timingSafeEqual(digest(client.clientId), digest(clientId)) &&
        timingSafeEqual(digest(client.clientSecret), digest(clientSecret)),
    );
  }

  async issue(client: WebhookClient): Promise<IssuedWebhookToken> {
    const iat = Math.floor(this.now() / 1000);
    const ttl = Math.floor(this.ttlMs / 1000);
    const accessToken = await new SignJWT({ issuer_ids: client.issuerIds })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(client.clientId)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .sign(this.key);
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: String(ttl),
      expires_at: new Date((iat + ttl) * 1000).toISOString(),
    };
  }

  /** The issuer ids a valid token allows; throws (any jose error) for a forged, expired or foreign token. */
  async verify(token: string): Promise<string[]> {
    const { payload } = await jwtVerify(token, this.key, {
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      algorithms: ['HS256'],
      currentDate: new Date(this.now()),
    });
    const issuerIds = z.array(z.string()).safeParse(payload.issuer_ids);
    if (!issuerIds.success) throw new Error('the token names no issuer');
    return issuerIds.data;
  }
}
