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

/** A verified token's `issuer_ids`: built once, not on every verification. */
const issuerIdsClaimSchema = z.array(z.string());

/** Verified tokens remembered by default: D1 reuses one token per client until it expires. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 1000;

interface VerifiedToken {
  issuerIds: readonly string[];
  /** Its `exp` claim, in seconds: the token is valid while the current second is below it, as jose checks. */
  expiresAt: number;
}

export interface IssuedWebhookToken {
  access_token: string;
  token_type: 'Bearer';
  /** A string, as D1's outbound OAuth contract shows it. */
  expires_in: string;
  expires_at: string;
}

export interface WebhookTokensOptions {
  /** Verified tokens remembered at most. @default {@link DEFAULT_VERIFIED_TOKEN_CACHE_SIZE} */
  verifiedCacheSize?: number;
}

export class WebhookTokens {
  /** Imported once: given raw bytes, jose imports the HMAC key again on every sign and verify. */
  private readonly key: KeyObject;
  /**
   * Tokens already verified, by their exact text, each until its own `exp` (never longer): every notification
   * carries the same token, and a full verification (signature, claims) costs more than the rest of the request's
   * checks. Bounded: when full, the oldest entry goes. Only a token that passed every check is ever stored.
   */
  private readonly verified = new Map<string, VerifiedToken>();
  private readonly verifiedCacheSize: number;

  constructor(
    private readonly clients: readonly WebhookClient[],
    secret: Uint8Array,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    options: WebhookTokensOptions = {},
  ) {
    this.key = createSecretKey(secret);
    this.verifiedCacheSize = options.verifiedCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE;
  }

  /** How many verified tokens are remembered (for tests). */
  get cachedTokenCount(): number {
    return this.verified.size;
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

  /**
   * The issuer ids a valid token allows; throws (any jose error) for a forged, expired or foreign token. A token
   * verified before is taken from the cache while its `exp` has not passed; once it has, it is verified again (and
   * refused, as jose refuses it).
   */
  async verify(token: string): Promise<readonly string[]> {
    const nowMs = this.now();
    const cached = this.verified.get(token);
    if (cached) {
      if (Math.floor(nowMs / 1000) < cached.expiresAt) return cached.issuerIds;
      this.verified.delete(token);
    }
    const { payload } = await jwtVerify(token, this.key, {
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      algorithms: ['HS256'],
      currentDate: new Date(nowMs),
    });
    const issuerIds = issuerIdsClaimSchema.safeParse(payload.issuer_ids);
    if (!issuerIds.success) throw new Error('the token names no issuer');
    const allowed = Object.freeze(issuerIds.data);
    // Without an expiry there is nothing to bound the entry by: such a token is verified every time.
    if (typeof payload.exp === 'number') this.remember(token, { issuerIds: allowed, expiresAt: payload.exp });
    return allowed;
  }

  private remember(token: string, entry: VerifiedToken): void {
    if (this.verifiedCacheSize <= 0) return;
    if (this.verified.size >= this.verifiedCacheSize) {
      // Expired entries go first; if none has, the oldest one.
      const second = Math.floor(this.now() / 1000);
      for (const [key, value] of this.verified) if (value.expiresAt <= second) this.verified.delete(key);
      while (this.verified.size >= this.verifiedCacheSize) {
        const oldest = this.verified.keys().next();
        if (oldest.done) break;
        this.verified.delete(oldest.value);
      }
    }
    this.verified.set(token, entry);
  }
}
