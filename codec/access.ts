/**
 * Who may call the codec server, and for which namespaces. People come with the OpenID Connect access token Web UI
 * forwards for its signed-in user, verified with jose against the provider's published keys (issuer, audience,
 * expiry, the algorithms allowed) and authorized by namespace from a groups or roles claim. Machines come with a
 * static bearer token (`temporal --codec-auth`). The codec server turns every payload back into names and
 * addresses, so outside DEMO_MODE it does not start without one of the two.
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type JWTPayload } from 'jose';
import { fetch, request } from 'undici';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import { ConfigError } from '../common/errors.js';
import { HttpError } from '../common/http-errors.js';

/** How a caller proved who it is: an OIDC access token, the static token, or nothing (the demo only). */
export type CallerVia = 'oidc' | 'static-token' | 'demo';

export interface Caller {
  /** The token's `sub`, or `static token`, or `demo`: what the audit line names. */
  subject: string;
  via: CallerVia;
  /** The namespaces whose payloads it may encode and decode. */
  namespaces: ReadonlySet<string> | 'all';
}

export interface CodecAccess {
  /** The caller behind an `Authorization` header; throws a 401 (or 503, the provider unreachable) HttpError. */
  authenticate(authorization: string | undefined): Promise<Caller>;
}

const REALM = 'codec-server';
const namespacesSchema = z.record(z.string().min(1), z.array(z.string().min(1)).min(1));
const discoverySchema = z.object({ issuer: z.string(), jwks_uri: z.url() });

/** 401 with the `WWW-Authenticate: Bearer` challenge of RFC 6750 (no error code when no token came at all). */
function unauthorized(reason: string, tokenGiven: boolean): HttpError {
  const challenge = tokenGiven
    ? `Bearer realm="${REALM}", error="invalid_token", error_description="${reason}"`
    : `Bearer realm="${REALM}"`;
  return new HttpError(401, tokenGiven ? 'INVALID_TOKEN' : 'TOKEN_REQUIRED', reason, {
    headers: { 'www-authenticate': challenge },
  });
}

/** Why jose refused a token, in words that name the check and never quote the token. */
function refusalReason(err: unknown): string | undefined {
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  // No double quotes: the reason goes into the quoted error_description of the challenge (RFC 6750).
  if (err instanceof errors.JWTClaimValidationFailed) return `the token's ${err.claim} claim is not accepted`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token's signing algorithm is not accepted";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature does not verify";
  if (err instanceof errors.JWKSNoMatchingKey) return 'the token is signed by a key the provider does not publish';
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'the token names no key the provider publishes alone';
  if (
    err instanceof errors.JWSInvalid ||
    err instanceof errors.JWTInvalid ||
    err instanceof errors.JOSENotSupported ||
    err instanceof errors.JWKInvalid
  ) {
    return 'the token is not a signed JWT this server reads';
  }
  return undefined;
}

type OidcSettings = NonNullable<Config['codecServer']['oidc']>;

/**
 * Whether keys may come from `url`: over https, or plain http to this machine or in the demo. Keys fetched in clear
 * over a network would let anyone on its path sign tokens of their own.
 */
function keysMayComeFrom(url: string, demoMode: boolean): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'https:' || demoMode || ['127.0.0.1', 'localhost', '[::1]'].includes(hostname);
}

/** How long a failed discovery is remembered before the next call tries again. */
const DISCOVERY_RETRY_MS = 5_000;

/** The namespaces each group or role grants, from CODEC_SERVER_OIDC_NAMESPACES. */
function namespaceGrants(raw: string): Map<string, readonly string[]> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError([{ key: 'CODEC_SERVER_OIDC_NAMESPACES', reason: 'is not valid JSON' }]);
  }
  const parsed = namespacesSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError([
      {
        key: 'CODEC_SERVER_OIDC_NAMESPACES',
        reason: 'must be {"<group>": ["<namespace>", ...]} with at least one entry',
      },
    ]);
  }
  if (Object.keys(parsed.data).length === 0) {
    throw new ConfigError([{ key: 'CODEC_SERVER_OIDC_NAMESPACES', reason: 'grants no namespace to any group' }]);
  }
  return new Map(Object.entries(parsed.data));
}

/** Verifies access tokens against the provider's keys, found once (and again after a failure) from its discovery. */
class OidcVerifier {
  readonly #settings: OidcSettings;
  readonly #demoMode: boolean;
  readonly #grants: Map<string, readonly string[]>;
  #keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  constructor(settings: OidcSettings, demoMode: boolean) {
    this.#settings = settings;
    this.#demoMode = demoMode;
    this.#grants = namespaceGrants(settings.namespaces);
    for (const [key, url] of [
      ['CODEC_SERVER_OIDC_ISSUER', settings.issuer],
      ['CODEC_SERVER_OIDC_JWKS_URL', settings.jwksUrl],
    ] as const) {
      if (url && !keysMayComeFrom(url, demoMode)) {
        throw new ConfigError([{ key, reason: 'must be https:// (plain http only to this machine, or in DEMO_MODE)' }]);
      }
    }
  }

  async caller(token: string): Promise<Caller> {
    const { issuer, audience, algorithms, clockToleranceMs, rolesClaim } = this.#settings;
    const keys = await this.#jwks();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience,
        algorithms,
        clockTolerance: Math.round(clockToleranceMs / 1000),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      const reason = refusalReason(err);
      if (reason) throw unauthorized(reason, true);
      throw new HttpError(503, 'IDENTITY_PROVIDER_UNAVAILABLE', "the identity provider's keys cannot be read now");
    }
    const claimed = payload[rolesClaim];
    const roles = typeof claimed === 'string' ? [claimed] : Array.isArray(claimed) ? claimed : [];
    const namespaces = new Set<string>();
    for (const role of roles) {
      for (const namespace of (typeof role === 'string' && this.#grants.get(role)) || []) namespaces.add(namespace);
    }
    return { subject: payload.sub ?? '', via: 'oidc', namespaces: namespaces.has('*') ? 'all' : namespaces };
  }

  #jwks(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    this.#keys ??= this.#discover().catch((err: unknown) => {
      // Remembered a little while, so a burst of calls (or of bad tokens) does not hammer the provider.
      setTimeout(() => (this.#keys = undefined), DISCOVERY_RETRY_MS).unref();
      throw err;
    });
    return this.#keys;
  }

  async #discover(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const { issuer, jwksUrl } = this.#settings;
    let url = jwksUrl;
    if (!url) {
      const discovery = new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : `${issuer}/`);
      const unavailable = new HttpError(
        503,
        'IDENTITY_PROVIDER_UNAVAILABLE',
        "the identity provider's discovery document cannot be read now",
      );
      try {
        const response = await request(discovery, { signal: AbortSignal.timeout(5_000) });
        if (response.statusCode !== 200) {
          await response.body.dump();
          throw unavailable;
        }
        const parsed = discoverySchema.safeParse(await response.body.json());
        // A document for another issuer, or keys in clear over a network, is a misconfiguration: never taken.
        if (!parsed.success || parsed.data.issuer !== issuer) {
          throw new HttpError(
            503,
            'IDENTITY_PROVIDER_MISCONFIGURED',
            "the provider's discovery document names another issuer",
          );
        }
        if (!keysMayComeFrom(parsed.data.jwks_uri, this.#demoMode)) {
          throw new HttpError(503, 'IDENTITY_PROVIDER_MISCONFIGURED', "the provider's jwks_uri is not https://");
        }
        url = parsed.data.jwks_uri;
      } catch (err) {
        throw err instanceof HttpError ? err : unavailable;
      }
    }
    return createRemoteJWKSet(new URL(url), {
      timeoutDuration: 5_000,
      // undici for every outbound call, the provider's keys included.
      [customFetch]: (input, init) =>
        fetch(input, {
          method: init.method,
          redirect: init.redirect,
          signal: init.signal,
          headers: [...init.headers],
        }),
    });
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The codec server's gate, from the configuration: refuses (ERR_CONFIG_INVALID) to build an open one outside
 * DEMO_MODE. In the demo without any setting, every caller is `demo`, for every namespace.
 */
export function codecServerAccess(config: Config): CodecAccess {
  const { authToken, oidc } = config.codecServer;
  if (!authToken && !oidc) {
    if (!config.demoMode) {
      const reason =
        'must be set: the codec server decodes every payload and answers no one without it (CODEC_SERVER_OIDC_ISSUER ' +
        'for people through Web UI, CODEC_SERVER_AUTH_TOKEN for machines), unless DEMO_MODE=true';
      throw new ConfigError([
        { key: 'CODEC_SERVER_OIDC_ISSUER', reason },
        { key: 'CODEC_SERVER_AUTH_TOKEN', reason },
      ]);
    }
    return { authenticate: () => Promise.resolve({ subject: 'demo', via: 'demo', namespaces: 'all' }) };
  }
  const verifier = oidc && new OidcVerifier(oidc, config.demoMode);
  const staticDigest = authToken && digest(authToken);
  return {
    async authenticate(authorization) {
      if (!authorization) throw unauthorized('an Authorization: Bearer token is required', false);
      const token = /^Bearer +(\S+)$/i.exec(authorization)?.[1];
      if (!token) throw unauthorized('the Authorization header is not a Bearer token', true);
      if (staticDigest && timingSafeEqual(digest(token), staticDigest)) {
        return { subject: 'static token', via: 'static-token', namespaces: 'all' };
      }
      if (!verifier) throw unauthorized('the token is not accepted', true);
      return verifier.caller(token);
    },
  };
}
