/**
 * The OAuth 2.0 JWT-bearer assertion (RFC 7523) the issuer signs to get a D1 access token.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { KeyWithId } from './keys.js';

/** D1 refuses assertions that expire more than 15 minutes after they are made. */
export const MAX_ASSERTION_TTL_MS = 15 * 60_000;

export interface AssertionOptions {
  issuerId: string;
  signingKey: KeyWithId;
  /** `aud`: optional for D1; by convention the token endpoint's origin. */
  audience?: string | undefined;
  ttlMs: number;
  /** The current time in ms; injectable for tests. */
  now?: number;
}

/** Signs an ES256 assertion: header `kid`, `typ: JWT`; claims `iss` = `sub` = issuerId, `iat`, `exp`, `jti`. */
export async function signAssertion({
  issuerId,
  signingKey,
  audience,
  ttlMs,
  now = Date.now(),
}: AssertionOptions): Promise<string> {
  const iat = Math.floor(now / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: signingKey.kid, typ: 'JWT' })
    .setIssuer(issuerId)
    .setSubject(issuerId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + Math.floor(Math.min(ttlMs, MAX_ASSERTION_TTL_MS) / 1000))
    .setJti(randomUUID());
  if (audience) jwt.setAudience(audience);
  return jwt.sign(signingKey.key);
}
