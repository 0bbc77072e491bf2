/**
 * The simulator's configuration: one zod schema over the D1_SIM_* environment variables (and LOG_LEVEL). The
 * defaults run the local demo next to `npm run keys`; relative paths resolve against the repository root.
 *
 * @module
 */
import path from 'node:path';
import { z } from 'zod';
import { durationMs } from '../common/duration.js';
import { projectRoot } from '../config/config.js';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import { extraOrderFieldNameSchema, idempotencyHeaderNameSchema, issuerIdSchema } from '../d1/schemas.js';
import { faultsPatchSchema } from './faults.js';

const jsonText = z.string().transform((text, ctx): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
    return z.NEVER;
  }
});

const commaList = z.string().transform((text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

/** The environment variables the simulator reads, by name, with their defaults. */
export const simulatorEnvSchema = z
  .object({
    /** @default 127.0.0.1 */
    D1_SIM_HOST: z.string().min(1).default('127.0.0.1'),
    /** 0 picks a free port. @default 8090 */
    D1_SIM_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
    /** The issuers' public signing keys (a JWKS), looked up by the assertion's `kid`. */
    D1_SIM_ISSUER_JWKS: z.string().min(1).optional(),
    /** The simulator's private P-256 JWK (with `kid`) that `encryptedData` is encrypted to. */
    D1_SIM_ENCRYPTION_KEY_FILE: z.string().min(1).optional(),
    /** The demo key set, shared with the service (`npm run keys`); the two defaults above live in it. */
    KEYS_DIR: z.string().min(1).default('.data/keys'),
    /** Comma list of the issuerIds allowed a token. @default any issuerId whose assertion verifies */
    D1_SIM_ISSUER_IDS: commaList.pipe(z.array(issuerIdSchema).min(1, 'must list at least one issuerId')).optional(),
    /**
     * Base URL of the issuer webhook; `none` (or empty) sends no notifications. A comma list of replicas' URLs gets
     * the batches in turn, each try at the next one, so a replica that is down costs one retry, not the batch.
     */
    D1_SIM_WEBHOOK_URL: z
      .union([
        z.literal('none'),
        commaList.pipe(
          z.array(z.url({ protocol: /^https?$/, error: 'must be http(s) URLs (comma-separated) or none' })).min(1),
        ),
      ])
      .default(['http://127.0.0.1:8091']),
    /** Credentials for the webhook's token endpoint (HTTP Basic). */
    D1_SIM_WEBHOOK_CLIENT_ID: z.string().min(1).default('d1-simulator'),
    D1_SIM_WEBHOOK_CLIENT_SECRET: z.string().min(1).default('d1-simulator-secret'),
    /** Time between two production steps of an order. A demo sees every step; a cancel has time to land. @default 1s */
    D1_SIM_STEP_DELAY: durationMs.default(1_000),
    /** Lifetime of the access tokens the simulator issues. @default 900 */
    D1_SIM_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
    /** Fault knobs in force from the start, as JSON (see faults.ts). @default {} */
    D1_SIM_FAULTS: jsonText.pipe(faultsPatchSchema).default({}),
    /** Larger request bodies get 413. @default 1048576 */
    D1_SIM_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1_048_576),
    /** Serve HTTPS with this certificate and key (PEM files). */
    D1_SIM_TLS_CERT_FILE: z.string().min(1).optional(),
    D1_SIM_TLS_KEY_FILE: z.string().min(1).optional(),
    /** CA that client certificates must chain to (with D1_SIM_REQUIRE_CLIENT_CERT). */
    D1_SIM_TLS_CA_FILE: z.string().min(1).optional(),
    /** Refuse TLS clients without a certificate from D1_SIM_TLS_CA_FILE (mutual TLS, as real D1). @default false */
    D1_SIM_REQUIRE_CLIENT_CERT: z.stringbool().default(false),
    /**
     * Let callers from other machines use the `/__sim` control routes (faults, reset, orders, token revocation).
     * Off, they answer loopback callers only, even when the simulator listens on every interface. @default false
     */
    D1_SIM_CONTROL_FROM_ANY_HOST: z.stringbool().default(false),
    /** Format of `exp` inside `encryptedData`; D1's documents disagree. @default YYMM */
    D1_SIM_EXP_FORMAT: z.enum(['YYMM', 'MMYY']).default('YYMM'),
    /**
     * Fields an issuer's D1 onboarding added to the order body (D1 documents none; e.g. `oldCardId`, the card an
     * order replaces, for D1_REPLACES_CARD_ID_FIELD), comma-separated JSON field names. The order endpoint takes them
     * out of the body, each a string of 1..64 characters (else 400 naming it), checks the rest as ever (a field not
     * listed here is refused as unknown), and shows them as `extraFields` in `GET /__sim/orders`. @default none
     */
    D1_SIM_EXTRA_ORDER_FIELDS: commaList.pipe(z.array(extraOrderFieldNameSchema)).default([]),
    /**
     * The header that carries a Pull & change request's identity (the client's D1_UPDATE_ORDER_IDEMPOTENCY_HEADER;
     * D1 documents none): the same identity for the same card gets the original 202 and operationId and nothing new,
     * with another body a 409. `none`: every request is a new one. @default Idempotency-Key
     */
    D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER: idempotencyHeaderNameSchema.default('Idempotency-Key'),
    /** Tries per notification batch before it is given up (with a warning). @default 20 */
    D1_SIM_NOTIFY_RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(20),
    /** First retry delay of a notification batch, doubled on each further try up to 30s. @default 500ms */
    D1_SIM_NOTIFY_RETRY_BASE: durationMs.default(500),
    /** Time limit of one call to the webhook. @default 5s */
    D1_SIM_NOTIFY_TIMEOUT: durationMs.default(5_000),
    /** @default info */
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.D1_SIM_TLS_CERT_FILE) !== Boolean(env.D1_SIM_TLS_KEY_FILE)) {
      const missing = env.D1_SIM_TLS_CERT_FILE ? 'D1_SIM_TLS_KEY_FILE' : 'D1_SIM_TLS_CERT_FILE';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'is required when the other TLS file is set' });
    }
    if (env.D1_SIM_REQUIRE_CLIENT_CERT && !(env.D1_SIM_TLS_CERT_FILE && env.D1_SIM_TLS_CA_FILE)) {
      ctx.addIssue({
        code: 'custom',
        path: ['D1_SIM_REQUIRE_CLIENT_CERT'],
        message: 'needs D1_SIM_TLS_CERT_FILE, D1_SIM_TLS_KEY_FILE and D1_SIM_TLS_CA_FILE',
      });
    }
  });

function toConfig(env: z.output<typeof simulatorEnvSchema>) {
  const fromRoot = (file: string) => path.resolve(projectRoot, file);
  const tls = env.D1_SIM_TLS_CERT_FILE &&
    env.D1_SIM_TLS_KEY_FILE && {
      certFile: fromRoot(env.D1_SIM_TLS_CERT_FILE),
      keyFile: fromRoot(env.D1_SIM_TLS_KEY_FILE),
      caFile: env.D1_SIM_TLS_CA_FILE && fromRoot(env.D1_SIM_TLS_CA_FILE),
      requireClientCert: env.D1_SIM_REQUIRE_CLIENT_CERT,
    };
  return {
    host: env.D1_SIM_HOST,
    port: env.D1_SIM_PORT,
    logLevel: env.LOG_LEVEL,
    issuerJwksFile: fromRoot(env.D1_SIM_ISSUER_JWKS ?? path.join(env.KEYS_DIR, 'issuer-signing.jwks.json')),
    encryptionKeyFile: fromRoot(
      env.D1_SIM_ENCRYPTION_KEY_FILE ?? path.join(env.KEYS_DIR, 'd1-encryption.private.jwk.json'),
    ),
    /** Undefined: every issuerId whose assertion verifies. */
    issuerIds: env.D1_SIM_ISSUER_IDS as readonly string[] | undefined,
    webhook: {
      /** Empty: notifications are not sent (the status endpoint still reports everything). */
      urls: env.D1_SIM_WEBHOOK_URL === 'none' ? [] : env.D1_SIM_WEBHOOK_URL.map((url) => url.replace(/\/+$/, '')),
      clientId: env.D1_SIM_WEBHOOK_CLIENT_ID,
      clientSecret: env.D1_SIM_WEBHOOK_CLIENT_SECRET,
      retryMaxAttempts: env.D1_SIM_NOTIFY_RETRY_MAX_ATTEMPTS,
      retryBaseMs: env.D1_SIM_NOTIFY_RETRY_BASE,
      timeoutMs: env.D1_SIM_NOTIFY_TIMEOUT,
    },
    stepDelayMs: env.D1_SIM_STEP_DELAY,
    controlFromAnyHost: env.D1_SIM_CONTROL_FROM_ANY_HOST,
    tokenTtlSeconds: env.D1_SIM_TOKEN_TTL_SECONDS,
    faults: env.D1_SIM_FAULTS,
    bodyLimitBytes: env.D1_SIM_BODY_LIMIT_BYTES,
    tls: tls || undefined,
    expFormat: env.D1_SIM_EXP_FORMAT,
    /** The order-body fields the issuer's onboarding added; empty: none (the strict body alone). */
    extraOrderFields: [...new Set(env.D1_SIM_EXTRA_ORDER_FIELDS)] as readonly string[],
    /** Lower-cased, as Node gives request headers; undefined (`none`): Pull & change requests are never deduplicated. */
    updateOrderIdempotencyHeader:
      env.D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER === 'none'
        ? undefined
        : env.D1_SIM_UPDATE_ORDER_IDEMPOTENCY_HEADER.toLowerCase(),
  };
}

/** The validated simulator configuration `createSimulator` takes. */
export type SimulatorConfig = Readonly<ReturnType<typeof toConfig>>;

/**
 * Reads and validates the simulator's settings. Empty variables count as unset, except D1_SIM_WEBHOOK_URL, where
 * empty means no webhook.
 *
 * @throws {ConfigError} naming every invalid variable and why.
 */
export function loadSimulatorConfig(env: Record<string, string | undefined> = process.env): SimulatorConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  if (env.D1_SIM_WEBHOOK_URL === '') present.D1_SIM_WEBHOOK_URL = 'none';
  const parsed = simulatorEnvSchema.safeParse(present);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((issue) => ({
      key: issue.path.map(String).join('.') || '(environment)',
      reason: issue.message,
    }));
    throw new ConfigError(issues);
  }
  return Object.freeze(toConfig(parsed.data));
}
