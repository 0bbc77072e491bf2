/**
 * D1's OAuth 2.0 side: the JWT-bearer token exchange (RFC 7523) checked as ../shared/d1-api.md Part A says, and
 * the access tokens it issues, verified on every banking call and revocable by tests.
 *
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { z } from 'zod';
import { KeyMaterialError } from '../common/errors.js';
import { readInlineOrFile } from '../common/secrets.js';
import { issuerIdSchema, JWT_BEARER_GRANT, tokenRequestSchema } from '../d1/schemas.js';
import type { Clock } from './clock.js';
import { fieldIssues, HttpError } from '../common/http-errors.js';

/** D1 refuses assertions that expire more than 15 minutes after now. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 15 * 60;
/** Tolerated difference between the issuer's clock and ours. */
export const CLOCK_SKEW_SECONDS = 30;
/** The scope every token of the simulator carries. */
export const ACCESS_TOKEN_SCOPE = 'd1-api:physical-card';
const TOKEN_ISSUER = 'd1-simulator';

const jwksSchema = z.looseObject({
  keys: z.array(z.looseObject({ kty: z.string(), kid: z.string().min(1) })).min(1),
});

/**
 * Reads the issuers' public signing keys (a JWKS whose keys all have a `kid`).
 *
 * @throws {KeyMaterialError} when the file is missing or is not such a JWKS.
 */
export async function loadIssuerKeys(file: string): Promise<JSONWebKeySet> {
  const text = await readInlineOrFile({ file }, { what: 'issuer JWKS', hint: 'run `npm run keys` for the demo set' });
  try {
    return jwksSchema.parse(JSON.parse(text));
  } catch {
    throw new KeyMaterialError(`The issuer JWKS at ${file} is not a JWKS whose keys all have a kid`);
  }
}

/** The 200 answer of the token endpoint. */
export interface AccessTokenAnswer {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

function assertionFailure(err: unknown, kid: string): string {
  if (err instanceof errors.JWKSNoMatchingKey) return `no issuer key has kid ${kid}`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the assertion signature does not verify';
  if (err instanceof errors.JWTExpired) return 'the assertion has expired (exp is in the past)';
  if (err instanceof errors.JWTClaimValidationFailed) return `the assertion is refused: ${err.message}`;
  return 'the assertion is not a valid ES256-signed JWT';
}

/** A 401 naming the scheme (RFC 6750 §3); with `error="invalid_token"` only when a token was sent (§3.1). */
function unauthorized(message: string, tokenSent = true): HttpError {
  return new HttpError(401, 'UNAUTHORIZED', message, {
    headers: { 'www-authenticate': tokenSent ? 'Bearer error="invalid_token"' : 'Bearer' },
  });
}

/** Verifies assertions, issues access tokens (HS256 with a per-process secret) and checks them. */
export class TokenService {
  readonly #keys: ReturnType<typeof createLocalJWKSet>;
  readonly #issuerIds: readonly string[] | undefined;
  readonly #clock: Clock;
  #secret = randomBytes(32);
  /** Every token carries a serial number; revocation refuses those below a mark. */
  #nextSerial = 0;
  #revokedBelow = 0;
  #revokedBelowFor = new Map<string, number>();

  constructor(options: { jwks: JSONWebKeySet; issuerIds?: readonly string[] | undefined; clock: Clock }) {
    this.#keys = createLocalJWKSet(options.jwks);
    this.#issuerIds = options.issuerIds;
    this.#clock = options.clock;
  }

  /**
   * The token endpoint: checks the request and its assertion, and issues a token for the assertion's issuer.
   *
   * @throws {HttpError} 400 `invalid_request`, `unsupported_grant_type` or `invalid_grant`.
   */
  async exchange(body: unknown, ttlSeconds: number): Promise<AccessTokenAnswer> {
    const request = tokenRequestSchema.safeParse(body);
    if (!request.success) {
      const grantType = (body as { grant_type?: unknown } | undefined)?.grant_type;
      if (typeof grantType === 'string' && grantType !== JWT_BEARER_GRANT) {
        throw HttpError.oauth('unsupported_grant_type', `grant_type must be ${JWT_BEARER_GRANT}`);
      }
      const fields = fieldIssues(request.error);
      throw HttpError.oauth(
        'invalid_request',
        fields.map((issue) => `${issue.field}: ${issue.reason}`).join('; '),
        fields,
      );
    }
    const issuerId = await this.#verifyAssertion(request.data.assertion);
    const issuedAt = Math.floor(this.#clock.now() / 1000);
    const accessToken = await new SignJWT({ scope: ACCESS_TOKEN_SCOPE, serial: this.#nextSerial++ })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(TOKEN_ISSUER)
      .setSubject(issuerId)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttlSeconds)
      .setJti(randomUUID())
      .sign(this.#secret);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: ttlSeconds, scope: ACCESS_TOKEN_SCOPE };
  }

  /**
   * The issuerId an `Authorization` header's token was issued to.
   *
   * @throws {HttpError} 401 when the token is missing, invalid, expired or revoked.
   */
  async authenticate(authorization: string | undefined): Promise<string> {
    const token = /^Bearer +([A-Za-z0-9_.-]+) *$/i.exec(authorization ?? '')?.[1];
    if (!token) throw unauthorized('a Bearer access token is required', /^Bearer +\S/i.test(authorization ?? ''));
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#secret, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        currentDate: new Date(this.#clock.now()),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw unauthorized(
        err instanceof errors.JWTExpired ? 'the access token has expired' : 'the access token is invalid',
      );
    }
    const { sub, serial } = payload;
    if (typeof sub !== 'string' || typeof serial !== 'number') throw unauthorized('the access token is invalid');
    if (serial < Math.max(this.#revokedBelow, this.#revokedBelowFor.get(sub) ?? 0)) {
      throw unauthorized('the access token has been revoked');
    }
    return sub;
  }

  /** Revokes every token issued so far, or only those of `issuerId`. */
  revoke(issuerId?: string): void {
    if (issuerId === undefined) this.#revokedBelow = this.#nextSerial;
    else this.#revokedBelowFor.set(issuerId, this.#nextSerial);
  }

  /** Forgets every token: none issued before still works. */
  reset(): void {
    this.#secret = randomBytes(32);
    this.#revokedBelowFor = new Map();
  }

  async #verifyAssertion(assertion: string): Promise<string> {
    const refuse = (description: string) => HttpError.oauth('invalid_grant', description);
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      throw refuse('the assertion is not a signed JWT');
    }
    if (header.alg !== 'ES256') throw refuse('the assertion must be signed with ES256');
    if (!header.kid) throw refuse('the assertion header has no kid');

    const now = this.#clock.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(assertion, this.#keys, {
        algorithms: ['ES256'],
        currentDate: new Date(now),
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ['iss', 'sub', 'exp'],
      }));
    } catch (err) {
      throw refuse(assertionFailure(err, header.kid));
    }
    const { iss, sub, exp, iat } = payload;
    const nowSeconds = now / 1000;
    if (typeof iss !== 'string' || !issuerIdSchema.safeParse(iss).success) {
      throw refuse('iss must be the issuerId (exactly 10 characters)');
    }
    if (sub !== iss) throw refuse('sub must equal iss (both are the issuerId)');
    if (this.#issuerIds && !this.#issuerIds.includes(iss)) throw refuse(`issuer ${iss} is not known to this D1`);
    if (exp === undefined || exp > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
      throw refuse('exp must be at most 15 minutes ahead');
    }
    if (iat !== undefined && iat > nowSeconds + CLOCK_SKEW_SECONDS) throw refuse('iat is in the future');
    return iss;
  }
}
