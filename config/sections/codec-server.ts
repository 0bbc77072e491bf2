/**
 * The codec server: where it listens, who may call it (static token, OIDC), its TLS and metrics. One part of the
 * environment schema (../env-schema.ts).
 *
 * @module
 */
import { z } from 'zod';
import { durationMs } from '../../common/duration.js';
import { port } from '../env-fields.js';

export const codecServerEnv = {
  /** Where the codec server (Web UI and CLI decoding) listens. @default 127.0.0.1:8888 */
  CODEC_SERVER_HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Interface the codec server (Web UI and CLI decoding) listens on.'),
  CODEC_SERVER_PORT: port.default(8888).describe('Port the codec server listens on.'),
  /**
   * A static token for machines (`temporal --codec-auth "Bearer <token>"`). The codec server needs it or
   * CODEC_SERVER_OIDC_ISSUER to start, except with DEMO_MODE=true, where it answers without a token.
   */
  CODEC_SERVER_AUTH_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe(
      'The machines\' static Bearer token (`temporal --codec-auth "Bearer <token>"`), 16 characters or more. The codec server needs it or `CODEC_SERVER_OIDC_ISSUER` to start, except with `DEMO_MODE=true`, where it answers without a token.',
    ),
  /** Browser origins allowed to call it, comma-separated. @default the Web UI at localhost and 127.0.0.1 */
  CODEC_SERVER_ALLOWED_ORIGINS: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Browser origins allowed to call the codec server, comma-separated; unset: the Web UI at `http://localhost:{TEMPORAL_UI_PORT}` and `http://127.0.0.1:{TEMPORAL_UI_PORT}`.',
    ),
  /**
   * People: the OpenID provider whose access tokens (Web UI's signed-in user) the codec server takes, as its
   * issuer URL. Its keys come from CODEC_SERVER_OIDC_JWKS_URL, or else from its discovery document.
   */
  CODEC_SERVER_OIDC_ISSUER: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      "People: the OpenID provider whose access tokens (Web UI's signed-in user) the codec server takes, as its issuer URL. Its keys come from `CODEC_SERVER_OIDC_JWKS_URL`, or else from its discovery document.",
    ),
  /** The `aud` an access token must name (the codec server's resource identifier at the provider). */
  CODEC_SERVER_OIDC_AUDIENCE: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The `aud` an access token must name (the codec server's resource identifier at the provider); required with `CODEC_SERVER_OIDC_ISSUER`.",
    ),
  CODEC_SERVER_OIDC_JWKS_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("Where the provider publishes its keys; unset: from the provider's discovery document."),
  /** Signing algorithms taken, comma-separated; `none` and the shared-secret HS* never. @default RS256,PS256,ES256,EdDSA */
  CODEC_SERVER_OIDC_ALGORITHMS: z
    .string()
    .default('RS256,PS256,ES256,EdDSA')
    .transform((value) =>
      value
        .split(',')
        .map((alg) => alg.trim())
        .filter(Boolean),
    )
    .pipe(
      z
        .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']))
        .min(1),
    )
    .describe('Signing algorithms taken, comma-separated; `none` and the shared-secret `HS*` are refused as settings.'),
  /** The token claim holding the caller's groups or roles (a string or a list). @default groups */
  CODEC_SERVER_OIDC_ROLES_CLAIM: z
    .string()
    .min(1)
    .default('groups')
    .describe("The token claim holding the caller's groups or roles (a string or a list)."),
  /**
   * Which namespaces each group or role may encode and decode, JSON `{"<group>": ["<namespace>", ...]}` (`"*"`:
   * every namespace). Required with CODEC_SERVER_OIDC_ISSUER; a token without a listed group decodes nothing.
   */
  CODEC_SERVER_OIDC_NAMESPACES: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Which namespaces each group or role may encode and decode, JSON `{"<group>": ["<namespace>", ...]}` (`"*"`: every namespace). Required with `CODEC_SERVER_OIDC_ISSUER`; a token without a listed group decodes nothing.',
    ),
  /** Leeway for `exp` and `nbf` against the provider's clock. @default 30s */
  CODEC_SERVER_OIDC_CLOCK_TOLERANCE: durationMs
    .pipe(z.number().max(300_000, 'must be at most 5m'))
    .default(30_000)
    .describe("Leeway for `exp` and `nbf` against the provider's clock."),
  /** HTTPS for the codec server (Web UI passes access tokens only to an https:// endpoint): certificate and key. */
  CODEC_SERVER_TLS_CERT_FILE: z
    .string()
    .min(1)
    .optional()
    .describe(
      'HTTPS for the codec server (Web UI passes access tokens only to an `https://` endpoint): certificate (PEM file); needs `CODEC_SERVER_TLS_KEY_FILE`. Unset: plain HTTP.',
    ),
  CODEC_SERVER_TLS_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('HTTPS for the codec server: key (PEM file); needs `CODEC_SERVER_TLS_CERT_FILE`.'),
  /** Where the codec server serves Prometheus metrics (on METRICS_HOST); 0 turns them off. @default 9463 */
  CODEC_SERVER_METRICS_PORT: port
    .default(9463)
    .describe('Where the codec server serves Prometheus metrics, on `METRICS_HOST`; `0` turns them off.'),
};
