/**
 * D1: its endpoints, the issuer, keys, tokens, timeouts, connections and mutual TLS. One part of the environment
 * schema (../env-schema.ts).
 *
 * @module
 */
import { z } from 'zod';
import { durationMs } from '../../common/duration.js';
import { extraOrderFieldNameSchema, idempotencyHeaderNameSchema } from '../../d1/schemas.js';

export const d1Env = {
  /** D1's origin. Real D1: https://api.d1.thalescloud.io (staging: https://api.d1-stg.thalescloud.io). */
  D1_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .default('http://127.0.0.1:8090')
    .describe(
      "D1's origin; the default is the simulator. Real D1: `https://api.d1.thalescloud.io` (staging: `https://api.d1-stg.thalescloud.io`).",
    ),
  /** Path of the OAuth 2.0 token endpoint under D1_BASE_URL. */
  D1_TOKEN_PATH: z
    .string()
    .startsWith('/')
    .default('/authz/v1/oauth2/token')
    .describe('Path of the OAuth 2.0 token endpoint under `D1_BASE_URL`.'),
  /** Path of the banking API under D1_BASE_URL. */
  D1_API_PATH: z
    .string()
    .startsWith('/')
    .default('/banking/v1')
    .describe('Path of the banking API under `D1_BASE_URL`.'),
  /** Pull & change path under D1_API_PATH (not in D1's public docs); {issuerId} and {cardId} are filled in. */
  D1_UPDATE_ORDER_PATH: z
    .string()
    .startsWith('/')
    .default('/issuers/{issuerId}/physicalCards/{cardId}/operations:updateOrder')
    .describe(
      "Pull & change path under `D1_API_PATH` (not in D1's public docs); `{issuerId}` and `{cardId}` are filled in.",
    ),
  /**
   * The header that carries each Pull & change request's identity (cancel, accelerate, redirect), the same on every
   * retry of the request, so D1 acts on it once. D1 documents no such field: set the name an issuer's onboarding
   * agreed, or `none` to send none (a retried request may then reach D1 twice). @default Idempotency-Key
   */
  D1_UPDATE_ORDER_IDEMPOTENCY_HEADER: idempotencyHeaderNameSchema
    .default('Idempotency-Key')
    .describe(
      "The header carrying a Pull & change request's identity (cancel, accelerate, redirect), the same on every retry, so D1 acts on it once. D1 documents no such field: set the name an issuer's onboarding agreed, or `none` to send none (a retried request may then reach D1 twice).",
    ),
  /**
   * Batch "Order cards" path under D1_API_PATH. D1 does not publish it: this default is our choice (the simulator
   * serves it). {issuerId} is filled in.
   */
  D1_BATCH_ORDER_PATH: z
    .string()
    .startsWith('/')
    .default('/issuers/{issuerId}/physicalCards/operations:batchProduction')
    .describe(
      'Batch "Order cards" path under `D1_API_PATH` (not in D1\'s public docs: the default is our choice, which the simulator serves); `{issuerId}` is filled in.',
    ),
  /** The issuer id D1 assigned at onboarding (exactly 10 characters). */
  D1_ISSUER_ID: z
    .string()
    .length(10, 'must be exactly 10 characters')
    .default('ISSUER0001')
    .describe('The issuer id D1 assigned at onboarding (exactly 10 characters).'),
  /** The issuer's ES256 private key for token assertions: a JWK or PKCS#8 PEM, inline (wins) or in a file. */
  D1_SIGNING_KEY: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The issuer's ES256 private key for token assertions, inline: a JWK or PKCS#8 PEM (wins over `D1_SIGNING_KEY_FILE`).",
    ),
  D1_SIGNING_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('The same key in a file; unset: `issuer-signing.private.jwk.json` in `KEYS_DIR`.'),
  /** The `kid` D1 knows the signing key by; taken from the JWK when unset. */
  D1_SIGNING_KEY_ID: z
    .string()
    .min(1)
    .optional()
    .describe("The `kid` D1 knows the signing key by; unset: the JWK's `kid` (so required with a PEM)."),
  /** D1's P-256 public key for `encryptedData`: a JWK or SPKI PEM, inline (wins) or in a file. */
  D1_ENCRYPTION_KEY: z
    .string()
    .min(1)
    .optional()
    .describe(
      "D1's P-256 public key for `encryptedData`, inline: a JWK or SPKI PEM (wins over `D1_ENCRYPTION_KEY_FILE`).",
    ),
  D1_ENCRYPTION_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('The same key in a file; unset: `d1-encryption.public.jwk.json` in `KEYS_DIR`.'),
  /** The `kid` D1 gave its encryption key; taken from the JWK when unset. */
  D1_ENCRYPTION_KEY_ID: z
    .string()
    .min(1)
    .optional()
    .describe("The `kid` D1 gave its encryption key; unset: the JWK's `kid`."),
  /** `aud` of the token assertion (optional for D1). @default the token URL's origin */
  D1_ASSERTION_AUDIENCE: z
    .string()
    .min(1)
    .optional()
    .describe("`aud` of the token assertion (optional for D1); unset: the token URL's origin."),
  /** Lifetime of a token assertion; D1 refuses more than 15 minutes. @default 5m */
  D1_ASSERTION_TTL: durationMs
    .pipe(z.number().max(15 * 60_000, 'must be at most 15m'))
    .default(5 * 60_000)
    .describe('Lifetime of a token assertion; D1 refuses more than 15 minutes.'),
  /** Refresh a cached access token this long before it expires. @default 60s */
  D1_TOKEN_REFRESH_MARGIN: durationMs
    .default(60_000)
    .describe('Refresh a cached access token this long before it expires.'),
  /** Time limit of one D1 request, headers and body. @default 10s */
  D1_REQUEST_TIMEOUT: durationMs.default(10_000).describe('Time limit of one D1 request, headers and body.'),
  /** Time limit of a TCP/TLS connect to D1. @default 5s */
  D1_CONNECT_TIMEOUT: durationMs.default(5_000).describe('Time limit of one TCP/TLS connect to D1.'),
  /** Keep-alive connections per D1 origin. @default 10 */
  D1_MAX_CONNECTIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(10)
    .describe('Keep-alive connections per D1 origin.'),
  /**
   * The order-body field an issuer's D1 onboarding added for the card a RENEWAL or REPLACEMENT order replaces
   * (D1 documents none; e.g. `oldCardId`): the order's `replacesCardId` is sent under it. A JSON field name, not one
   * of the body's own. @default unset (`replacesCardId` is never sent to D1)
   */
  D1_REPLACES_CARD_ID_FIELD: extraOrderFieldNameSchema
    .optional()
    .describe(
      "The order-body field an issuer's D1 onboarding added for the card a RENEWAL or REPLACEMENT order replaces (D1 documents none; e.g. `oldCardId`): the order's `replacesCardId` is sent under it. A JSON field name, not one of the body's own. Unset: `replacesCardId` stays ours and is never sent to D1.",
    ),
  /** Mutual TLS with D1: our client certificate and key (PEM files), and the CA D1's server certificate chains to. */
  D1_TLS_CERT_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Mutual TLS with D1: our client certificate (PEM file); needs `D1_TLS_KEY_FILE` (both or neither).'),
  D1_TLS_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Mutual TLS with D1: our client key (PEM file); needs `D1_TLS_CERT_FILE`.'),
  D1_TLS_CA_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("The CA D1's server certificate chains to (PEM file); unset: the system CAs."),
};
