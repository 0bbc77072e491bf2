/**
 * The service's configuration: one zod schema over environment variables (./env-schema.ts), read once at process
 * start, turned into the settings each part of the service takes, and passed down. Every key has a default that runs
 * the local demo. No other module reads `process.env`.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { durationMs } from '../common/duration.js';
import { ConfigError, type ConfigIssue } from '../common/errors.js';
import { envSchema } from './env-schema.js';
import { logLevel, postgresStoreOf } from './env-fields.js';

export { durationMs, envSchema, logLevel };

/**
 * The package root (the folder holding package.json), where `.data/`, `config/program-catalog.json` and the
 * prebuilt bundle live by default: this file's parent folder when it runs from source (tsx), and one more up when it
 * runs compiled from `dist/config/`.
 */
export const projectRoot = packageRootAbove(path.resolve(import.meta.dirname, '..'));

function packageRootAbove(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return start;
  }
}

function toConfig(env: z.output<typeof envSchema>) {
  const fromRoot = (file: string) => path.resolve(projectRoot, file);
  return {
    temporal: {
      address: env.TEMPORAL_ADDRESS,
      apiKey: env.TEMPORAL_API_KEY,
      tls:
        env.TEMPORAL_TLS === false
          ? undefined
          : env.TEMPORAL_TLS || env.TEMPORAL_API_KEY || env.TEMPORAL_TLS_CERT_FILE || env.TEMPORAL_TLS_CA_FILE
            ? {
                certFile: env.TEMPORAL_TLS_CERT_FILE && fromRoot(env.TEMPORAL_TLS_CERT_FILE),
                keyFile: env.TEMPORAL_TLS_KEY_FILE && fromRoot(env.TEMPORAL_TLS_KEY_FILE),
                caFile: env.TEMPORAL_TLS_CA_FILE && fromRoot(env.TEMPORAL_TLS_CA_FILE),
              }
            : undefined,
      namespace: env.TEMPORAL_NAMESPACE,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      /**
       * Where campaign workflows (and their pages) run: a queue of their own, so a backlog of card tasks never holds
       * up a campaign's next page, its pause or cancel, or its query. Served by every worker beside the cards' queue.
       */
      campaignTaskQueue: `${env.TEMPORAL_TASK_QUEUE}-campaigns`,
      uiPort: env.TEMPORAL_UI_PORT,
      uiUrl: env.TEMPORAL_UI_URL?.replace(/\/+$/, ''),
      dbFile: fromRoot(env.TEMPORAL_DB_FILE),
      cliPath: env.TEMPORAL_CLI_PATH,
    },
    searchPath: env.PATH.split(path.delimiter).filter(Boolean),
    cacheDir: path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? '/tmp', '.cache'), 'd1-card-orders'),
    worker: {
      shutdownGraceMs: env.WORKER_SHUTDOWN_GRACE,
      workflowBundlePath: fromRoot(env.WORKFLOW_BUNDLE_PATH),
      maxConcurrentActivities: env.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS,
      metricsAddress: env.WORKER_METRICS_PORT === 0 ? undefined : `${env.METRICS_HOST}:${env.WORKER_METRICS_PORT}`,
    },
    programCatalogFile: fromRoot(env.PROGRAM_CATALOG_FILE),
    reconcile: {
      /** Unset: no Schedule (the reconciliation runs only when asked, `card-orders reconcile`). */
      schedule: env.RECONCILE_SCHEDULE,
      pageSize: env.RECONCILE_PAGE_SIZE,
      concurrency: env.RECONCILE_CONCURRENCY,
    },
    issuerEvents: {
      url: env.ISSUER_EVENTS_URL,
      signingKey: {
        inline: env.ISSUER_EVENTS_SIGNING_KEY,
        file: fromRoot(
          env.ISSUER_EVENTS_SIGNING_KEY_FILE ?? path.join(env.KEYS_DIR, 'issuer-events-signing.private.jwk.json'),
        ),
        kid: env.ISSUER_EVENTS_SIGNING_KEY_ID,
      },
    },
    payloadCodec: {
      /** The namespace new payloads are sealed to, if any. */
      sealedTo: env.PAYLOAD_CODEC_SEAL_NAMESPACE ? env.TEMPORAL_NAMESPACE : undefined,
      inline: env.PAYLOAD_CODEC_KEYS,
      file: fromRoot(env.PAYLOAD_CODEC_KEYS_FILE ?? path.join(env.KEYS_DIR, 'payload-codec-keys.json')),
    },
    orderFingerprintKey: {
      inline: env.ORDER_FINGERPRINT_KEY,
      file: fromRoot(env.ORDER_FINGERPRINT_KEY_FILE ?? path.join(env.KEYS_DIR, 'order-fingerprint-key')),
    },
    webhook: {
      host: env.WEBHOOK_HOST,
      port: env.WEBHOOK_PORT,
      metrics: env.WEBHOOK_METRICS_PORT === 0 ? undefined : { host: env.METRICS_HOST, port: env.WEBHOOK_METRICS_PORT },
      clients: env.WEBHOOK_CLIENTS,
      tokenSecret: {
        inline: env.WEBHOOK_TOKEN_SECRET,
        file: fromRoot(env.WEBHOOK_TOKEN_SECRET_FILE ?? path.join(env.KEYS_DIR, 'webhook-token-secret')),
      },
      tokenTtlMs: env.WEBHOOK_TOKEN_TTL,
      bodyLimitBytes: env.WEBHOOK_BODY_LIMIT_BYTES,
      signalTimeoutMs: env.WEBHOOK_SIGNAL_TIMEOUT,
      unmatchedRetentionMs: env.WEBHOOK_UNMATCHED_RETENTION,
      tls:
        env.WEBHOOK_TLS_CERT_FILE && env.WEBHOOK_TLS_KEY_FILE
          ? {
              certFile: fromRoot(env.WEBHOOK_TLS_CERT_FILE),
              keyFile: fromRoot(env.WEBHOOK_TLS_KEY_FILE),
              caFile: env.WEBHOOK_TLS_CA_FILE && fromRoot(env.WEBHOOK_TLS_CA_FILE),
              requireClientCert: env.WEBHOOK_REQUIRE_CLIENT_CERT,
            }
          : undefined,
    },
    codecServer: {
      host: env.CODEC_SERVER_HOST,
      port: env.CODEC_SERVER_PORT,
      authToken: env.CODEC_SERVER_AUTH_TOKEN,
      oidc: env.CODEC_SERVER_OIDC_ISSUER
        ? {
            issuer: env.CODEC_SERVER_OIDC_ISSUER,
            audience: env.CODEC_SERVER_OIDC_AUDIENCE ?? '',
            jwksUrl: env.CODEC_SERVER_OIDC_JWKS_URL,
            algorithms: env.CODEC_SERVER_OIDC_ALGORITHMS,
            rolesClaim: env.CODEC_SERVER_OIDC_ROLES_CLAIM,
            namespaces: env.CODEC_SERVER_OIDC_NAMESPACES ?? '',
            clockToleranceMs: env.CODEC_SERVER_OIDC_CLOCK_TOLERANCE,
          }
        : undefined,
      tls:
        env.CODEC_SERVER_TLS_CERT_FILE && env.CODEC_SERVER_TLS_KEY_FILE
          ? { certFile: fromRoot(env.CODEC_SERVER_TLS_CERT_FILE), keyFile: fromRoot(env.CODEC_SERVER_TLS_KEY_FILE) }
          : undefined,
      metrics:
        env.CODEC_SERVER_METRICS_PORT === 0
          ? undefined
          : { host: env.METRICS_HOST, port: env.CODEC_SERVER_METRICS_PORT },
      allowedOrigins: (
        env.CODEC_SERVER_ALLOWED_ORIGINS ??
        `http://localhost:${env.TEMPORAL_UI_PORT},http://127.0.0.1:${env.TEMPORAL_UI_PORT}`
      )
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    },
    orderDefaults: {
      notificationTimeoutMs: env.ORDER_NOTIFICATION_TIMEOUT,
      pollIntervalMs: env.ORDER_POLL_INTERVAL,
      pollMaxIntervalMs: env.ORDER_POLL_MAX_INTERVAL,
      changeVerdictTimeoutMs: env.ORDER_CHANGE_VERDICT_TIMEOUT,
      productionDeadlineMs: env.ORDER_PRODUCTION_DEADLINE,
      outOfStockReorderDelayMs: env.ORDER_OUT_OF_STOCK_REORDER_DELAY,
      outOfStockMaxReorders: env.ORDER_OUT_OF_STOCK_MAX_REORDERS,
      d1RetryTimeoutMs: env.ORDER_D1_RETRY_TIMEOUT,
      d1OutageMaxIntervalMs: env.ORDER_D1_OUTAGE_MAX_INTERVAL,
      issuerEventRetryMs: env.ISSUER_EVENTS_RETRY_INTERVAL,
      issuerEventMaxIntervalMs: env.ISSUER_EVENTS_MAX_RETRY_INTERVAL,
      deliveryWindowMs: env.ORDER_DELIVERY_WINDOW,
      reshipWaitMs: env.ORDER_RESHIP_WAIT,
    },
    logLevel: env.LOG_LEVEL,
    logs: { dir: fromRoot(env.LOGS_DIR), toTerminal: env.LOG_TO_TERMINAL },
    demoMode: env.DEMO_MODE,
    keysDir: fromRoot(env.KEYS_DIR),
    campaigns: {
      storeDir: fromRoot(env.CAMPAIGN_STORE_DIR),
      store: env.CAMPAIGN_STORE,
      /** Set when CAMPAIGN_STORE=postgres (required then). */
      postgres: env.CAMPAIGN_STORE_URL
        ? postgresStoreOf(
            env.CAMPAIGN_STORE_URL,
            env.CAMPAIGN_STORE_PASSWORD_FILE && fromRoot(env.CAMPAIGN_STORE_PASSWORD_FILE),
            env.CAMPAIGN_STORE_MAX_CONNECTIONS,
          )
        : undefined,
      retentionMs: env.CAMPAIGN_STORE_RETENTION,
      batchSize: env.D1_BATCH_SIZE,
      singleOrderIssuers: env.D1_SINGLE_ORDER_ISSUERS,
      maxInFlight: env.CAMPAIGN_MAX_IN_FLIGHT,
      maxCardBacklog: env.CAMPAIGN_MAX_CARD_BACKLOG,
      checkIntervalMs: env.CAMPAIGN_CHECK_INTERVAL,
      checkMaxIntervalMs: env.CAMPAIGN_CHECK_MAX_INTERVAL,
      cardSubmitTimeoutMs: env.CAMPAIGN_CARD_SUBMIT_TIMEOUT,
      pageHeartbeatTimeoutMs: env.CAMPAIGN_PAGE_HEARTBEAT_TIMEOUT,
      batchRequestTimeoutMs: env.D1_BATCH_REQUEST_TIMEOUT,
    },
    d1: {
      baseUrl: env.D1_BASE_URL.replace(/\/+$/, ''),
      tokenPath: env.D1_TOKEN_PATH,
      apiPath: env.D1_API_PATH.replace(/\/+$/, ''),
      updateOrderPath: env.D1_UPDATE_ORDER_PATH,
      /** Unset (`none`): Pull & change requests carry no identity. */
      updateOrderIdempotencyHeader:
        env.D1_UPDATE_ORDER_IDEMPOTENCY_HEADER === 'none' ? undefined : env.D1_UPDATE_ORDER_IDEMPOTENCY_HEADER,
      batchOrderPath: env.D1_BATCH_ORDER_PATH,
      issuerId: env.D1_ISSUER_ID,
      signingKey: {
        inline: env.D1_SIGNING_KEY,
        file: fromRoot(env.D1_SIGNING_KEY_FILE ?? path.join(env.KEYS_DIR, 'issuer-signing.private.jwk.json')),
        kid: env.D1_SIGNING_KEY_ID,
      },
      encryptionKey: {
        inline: env.D1_ENCRYPTION_KEY,
        file: fromRoot(env.D1_ENCRYPTION_KEY_FILE ?? path.join(env.KEYS_DIR, 'd1-encryption.public.jwk.json')),
        kid: env.D1_ENCRYPTION_KEY_ID,
      },
      assertionAudience: env.D1_ASSERTION_AUDIENCE,
      assertionTtlMs: env.D1_ASSERTION_TTL,
      tokenRefreshMarginMs: env.D1_TOKEN_REFRESH_MARGIN,
      requestTimeoutMs: env.D1_REQUEST_TIMEOUT,
      connectTimeoutMs: env.D1_CONNECT_TIMEOUT,
      maxConnections: env.D1_MAX_CONNECTIONS,
      rateLimitPerSecond: env.D1_RATE_LIMIT_PER_SECOND,
      /** Unset: an order's `replacesCardId` is never sent to D1. */
      replacesCardIdField: env.D1_REPLACES_CARD_ID_FIELD,
      tls: {
        certFile: env.D1_TLS_CERT_FILE && fromRoot(env.D1_TLS_CERT_FILE),
        keyFile: env.D1_TLS_KEY_FILE && fromRoot(env.D1_TLS_KEY_FILE),
        caFile: env.D1_TLS_CA_FILE && fromRoot(env.D1_TLS_CA_FILE),
      },
    },
  };
}

/** The validated, frozen configuration every process receives. */
export type Config = Readonly<ReturnType<typeof toConfig>>;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads and validates the configuration. Empty variables count as unset, so `FOO=` falls back to the default.
 *
 * @throws {ConfigError} naming every invalid variable and why.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((issue) => ({
      key: issue.path.map(String).join('.') || '(environment)',
      reason: issue.message,
    }));
    throw new ConfigError(issues);
  }
  return deepFreeze(toConfig(parsed.data));
}
