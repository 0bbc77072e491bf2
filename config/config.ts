/**
 * The service's configuration: one zod schema over environment variables, read once at process start and passed
 * down. Every key has a default that runs the local demo. No other module reads `process.env`.
 *
 * @module
 */
import path from 'node:path';
import { z } from 'zod';
import { extraOrderFieldNameSchema, idempotencyHeaderNameSchema } from '../d1/schemas.js';
import { MAX_REORDERS } from '../orders/reorder-id.js';
import { cronExpressionIssue } from '../common/cron.js';
import { durationMs } from '../common/duration.js';
import { ConfigError, type ConfigIssue } from '../common/errors.js';

export { durationMs };

/** The repository root, where `.data/` and the prebuilt bundle live by default. */
export const projectRoot = path.resolve(import.meta.dirname, '..');

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7233');

const port = z.coerce.number().int().min(0).max(65535);

/** Why `url` is not a PostgreSQL URL we take, never quoting it (it may hold a password). */
function postgresUrlIssue(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) return 'not postgres://';
  if (!parsed.hostname || !parsed.username || parsed.pathname.length < 2) return 'needs user, host and database';
  return undefined;
}

/** The PostgreSQL store's settings from its URL (validated above); the password stays out of every message. */
function postgresStoreOf(url: string, passwordFile: string | undefined, maxConnections: number) {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode');
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 5432,
    database: decodeURIComponent(parsed.pathname.slice(1)),
    user: decodeURIComponent(parsed.username),
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    passwordFile,
    ssl: sslmode !== null && sslmode !== 'disable',
    maxConnections,
  };
}

export const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error']);

/** The environment variables this service reads, by name, with their defaults. */
export const envSchema = z
  .object({
    /** Temporal frontend, host:port. @default 127.0.0.1:7233 */
    TEMPORAL_ADDRESS: hostPort.default('127.0.0.1:7233'),
    /** API key for Temporal Cloud (or a server with API-key auth); implies TLS. */
    TEMPORAL_API_KEY: z.string().min(1).optional(),
    /** TLS to the Temporal frontend: on with any TEMPORAL_TLS_* file or an API key; `true` forces it on. */
    TEMPORAL_TLS: z.stringbool().optional(),
    /** mTLS client certificate and key (PEM files), and the CA of the frontend's certificate. */
    TEMPORAL_TLS_CERT_FILE: z.string().min(1).optional(),
    TEMPORAL_TLS_KEY_FILE: z.string().min(1).optional(),
    TEMPORAL_TLS_CA_FILE: z.string().min(1).optional(),
    /** @default default */
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    /** Task queue of the card-order workflows and activities. @default card-orders */
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('card-orders'),
    /** Port of the embedded dev server's Web UI. @default 8233 */
    TEMPORAL_UI_PORT: port.default(8233),
    /** The Web UI `npm start` links to; unset: the dev server's when it started one, else no links. */
    TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** SQLite file of the embedded dev server; relative paths are resolved against the repository. */
    TEMPORAL_DB_FILE: z.string().min(1).default('.data/temporal.sqlite'),
    /** A `temporal` CLI binary to use instead of searching PATH, the cache, or building one. */
    TEMPORAL_CLI_PATH: z.string().min(1).optional(),
    /** Where built tools are cached, shared by every clone. @default $XDG_CACHE_HOME or ~/.cache */
    XDG_CACHE_HOME: z.string().min(1).optional(),
    HOME: z.string().min(1).optional(),
    /** Searched for `temporal` and `go`. */
    PATH: z.string().default(''),
    /** Grace period for in-flight activities when the worker shuts down. @default 30s */
    WORKER_SHUTDOWN_GRACE: durationMs.default(30_000),
    /** A prebuilt workflow bundle (`npm run build`); used when it matches the workflow sources. */
    WORKFLOW_BUNDLE_PATH: z.string().min(1).default('dist/workflow-bundle.js'),
    /** @default info */
    LOG_LEVEL: logLevel.default('info'),
    /** Where supervised children (`npm start`) write their output, one `<name>.log` each. @default .data/logs */
    LOGS_DIR: z.string().min(1).default('.data/logs'),
    /** Also show the children's raw output on the terminal, prefixed with their name. @default false */
    LOG_TO_TERMINAL: z.stringbool().default(false),
    /**
     * The local demo (`npm start`, tests). Its relaxations, all of them, each only where the production setting is
     * unset: the webhook takes the simulator's public D1 credentials (WEBHOOK_CLIENTS), and the codec server answers
     * callers without a token (CODEC_SERVER_OIDC_ISSUER, CODEC_SERVER_AUTH_TOKEN; the browser origin check stays).
     * Never set it in production: unset settings then fail closed. @default false
     */
    DEMO_MODE: z.stringbool().default(false),

    /** Where `npm run keys` writes the demo key set, and where the key defaults below point. @default .data/keys */
    KEYS_DIR: z.string().min(1).default('.data/keys'),
    /**
     * Where campaigns keep their cards between ingestion and submission (pages encrypted with the payload codec's
     * keys). The CLI writes it and every worker reads it: one machine, or a volume all of them mount.
     * @default .data/campaigns
     */
    CAMPAIGN_STORE_DIR: z.string().min(1).default('.data/campaigns'),
    /**
     * Where campaign pages live: `file` (CAMPAIGN_STORE_DIR, one machine or a shared volume) or `postgres`
     * (CAMPAIGN_STORE_URL, shared by every machine). @default file
     */
    CAMPAIGN_STORE: z.enum(['file', 'postgres']).default('file'),
    /**
     * The PostgreSQL store, as `postgres://user@host:port/database` (`?sslmode=require` for TLS). A password may be
     * in it, or better in CAMPAIGN_STORE_PASSWORD_FILE; it is never logged.
     */
    CAMPAIGN_STORE_URL: z
      .string()
      .refine((url) => postgresUrlIssue(url) === undefined, {
        message: 'must be postgres://user@host[:port]/database',
      })
      .optional(),
    /** A file holding the PostgreSQL store's password (wins over one in CAMPAIGN_STORE_URL). */
    CAMPAIGN_STORE_PASSWORD_FILE: z.string().min(1).optional(),
    /** Connections to the PostgreSQL store per process. @default 4 */
    CAMPAIGN_STORE_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100).default(4),
    /** How long a completed campaign's pages (card data) are kept before the workers delete them. @default 30d */
    CAMPAIGN_STORE_RETENTION: durationMs.default(30 * 86_400_000),
    /** Cards per D1 batch "Order cards" call, and per stored page of a campaign (D1 takes 1 to 1000). @default 1000 */
    D1_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(1000),
    /**
     * Issuers without D1's batch API (comma list): their campaigns order each card with a single-order call.
     * @default none
     */
    D1_SINGLE_ORDER_ISSUERS: z
      .string()
      .default('')
      .transform((list) =>
        list
          .split(',')
          .map((id) => id.trim())
          .filter(Boolean),
      ),
    /** The most cards of one campaign in flight (submitted, not yet shipped) before its next page waits. @default 10000 */
    CAMPAIGN_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
    /**
     * The most card-order workflow tasks waiting for a worker (the server's backlog of the cards' task queue) before a
     * campaign's next page waits: pages go no faster than the workers take their cards, and single orders are not
     * stuck behind a campaign. @default 1000
     */
    CAMPAIGN_MAX_CARD_BACKLOG: z.coerce.number().int().min(1).max(1_000_000).default(1000),
    /**
     * How soon a campaign first looks again at its cards (to submit the next page, or to end); the wait doubles while
     * nothing moves, up to CAMPAIGN_CHECK_MAX_INTERVAL. @default 1m
     */
    CAMPAIGN_CHECK_INTERVAL: durationMs.default(60_000),
    /** The longest wait between two looks: cards take days to ship, so looks are rare then. @default 6h */
    CAMPAIGN_CHECK_MAX_INTERVAL: durationMs.default(6 * 3_600_000),
    /** How long a campaign card waits for its batch before it orders itself (D1 dedupes by request id). @default 1h */
    CAMPAIGN_CARD_SUBMIT_TIMEOUT: durationMs.default(3_600_000),
    /** How soon a worker lost in the middle of a campaign page is noticed, and the page given to another. @default 1m */
    CAMPAIGN_PAGE_HEARTBEAT_TIMEOUT: durationMs.default(60_000),
    /** Timeout of one D1 batch call (up to D1_BATCH_SIZE cards). @default 60s */
    D1_BATCH_REQUEST_TIMEOUT: durationMs.default(60_000),

    /** D1's origin. Real D1: https://api.d1.thalescloud.io (staging: https://api.d1-stg.thalescloud.io). */
    D1_BASE_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8090'),
    /** Path of the OAuth 2.0 token endpoint under D1_BASE_URL. */
    D1_TOKEN_PATH: z.string().startsWith('/').default('/authz/v1/oauth2/token'),
    /** Path of the banking API under D1_BASE_URL. */
    D1_API_PATH: z.string().startsWith('/').default('/banking/v1'),
    /** Pull & change path under D1_API_PATH (not in D1's public docs); {issuerId} and {cardId} are filled in. */
    D1_UPDATE_ORDER_PATH: z
      .string()
      .startsWith('/')
      .default('/issuers/{issuerId}/physicalCards/{cardId}/operations:updateOrder'),
    /**
     * The header that carries each Pull & change request's identity (cancel, accelerate, redirect), the same on every
     * retry of the request, so D1 acts on it once. D1 documents no such field: set the name an issuer's onboarding
     * agreed, or `none` to send none (a retried request may then reach D1 twice). @default Idempotency-Key
     */
    D1_UPDATE_ORDER_IDEMPOTENCY_HEADER: idempotencyHeaderNameSchema.default('Idempotency-Key'),
    /**
     * Batch "Order cards" path under D1_API_PATH. D1 does not publish it: this default is our choice (the simulator
     * serves it). {issuerId} is filled in.
     */
    D1_BATCH_ORDER_PATH: z
      .string()
      .startsWith('/')
      .default('/issuers/{issuerId}/physicalCards/operations:batchProduction'),
    /** The issuer id D1 assigned at onboarding (exactly 10 characters). */
    D1_ISSUER_ID: z.string().length(10, 'must be exactly 10 characters').default('ISSUER0001'),
    /** The issuer's ES256 private key for token assertions: a JWK or PKCS#8 PEM, inline (wins) or in a file. */
    D1_SIGNING_KEY: z.string().min(1).optional(),
    D1_SIGNING_KEY_FILE: z.string().min(1).optional(),
    /** The `kid` D1 knows the signing key by; taken from the JWK when unset. */
    D1_SIGNING_KEY_ID: z.string().min(1).optional(),
    /** D1's P-256 public key for `encryptedData`: a JWK or SPKI PEM, inline (wins) or in a file. */
    D1_ENCRYPTION_KEY: z.string().min(1).optional(),
    D1_ENCRYPTION_KEY_FILE: z.string().min(1).optional(),
    /** The `kid` D1 gave its encryption key; taken from the JWK when unset. */
    D1_ENCRYPTION_KEY_ID: z.string().min(1).optional(),
    /** `aud` of the token assertion (optional for D1). @default the token URL's origin */
    D1_ASSERTION_AUDIENCE: z.string().min(1).optional(),
    /** Lifetime of a token assertion; D1 refuses more than 15 minutes. @default 5m */
    D1_ASSERTION_TTL: durationMs.pipe(z.number().max(15 * 60_000, 'must be at most 15m')).default(5 * 60_000),
    /** Refresh a cached access token this long before it expires. @default 60s */
    D1_TOKEN_REFRESH_MARGIN: durationMs.default(60_000),
    /** Time limit of one D1 request, headers and body. @default 10s */
    D1_REQUEST_TIMEOUT: durationMs.default(10_000),
    /** Time limit of a TCP/TLS connect to D1. @default 5s */
    D1_CONNECT_TIMEOUT: durationMs.default(5_000),
    /** Keep-alive connections per D1 origin. @default 10 */
    D1_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(256).default(10),
    /**
     * The order-body field an issuer's D1 onboarding added for the card a RENEWAL or REPLACEMENT order replaces
     * (D1 documents none; e.g. `oldCardId`): the order's `replacesCardId` is sent under it. A JSON field name, not one
     * of the body's own. @default unset (`replacesCardId` is never sent to D1)
     */
    D1_REPLACES_CARD_ID_FIELD: extraOrderFieldNameSchema.optional(),
    /** Mutual TLS with D1: our client certificate and key (PEM files), and the CA D1's server certificate chains to. */
    D1_TLS_CERT_FILE: z.string().min(1).optional(),
    D1_TLS_KEY_FILE: z.string().min(1).optional(),
    D1_TLS_CA_FILE: z.string().min(1).optional(),
    /** The issuer's programs (per card product: delivery, carriers, packaging, inserts, shipment, countries). */
    PROGRAM_CATALOG_FILE: z.string().min(1).default('config/program-catalog.json'),
    /** Where lifecycle events go (signed JSON, at least once); unset: no events. */
    ISSUER_EVENTS_URL: z.url({ protocol: /^https?$/ }).optional(),
    /** ES256 key that signs issuer events: a JWK or PKCS#8 PEM, inline (wins) or in a file. */
    ISSUER_EVENTS_SIGNING_KEY: z.string().min(1).optional(),
    ISSUER_EVENTS_SIGNING_KEY_FILE: z.string().min(1).optional(),
    ISSUER_EVENTS_SIGNING_KEY_ID: z.string().min(1).optional(),
    /** The payload codec's AES-256 key ring, JSON `{activeKeyId, keys: {id: base64}}`, inline (wins) or in a file. */
    PAYLOAD_CODEC_KEYS: z.string().min(1).optional(),
    PAYLOAD_CODEC_KEYS_FILE: z.string().min(1).optional(),
    /**
     * Seal new payloads to TEMPORAL_NAMESPACE (the codec server then holds namespace grants for ciphertext too).
     * Every release since decodes sealed and unsealed payloads; upgrading workers of a release from before, deploy
     * with `false` first, then `true` once no older worker runs. @default true
     */
    PAYLOAD_CODEC_SEAL_NAMESPACE: z.stringbool().default(true),
    /**
     * Base64 secret (32 bytes or more) that keys the order fingerprints: placing an issuerRequestId again with a
     * different order is refused as ORDER_CONFLICT, naming the fields that differ. Inline (wins) or in a file. The
     * same secret for every client of one Temporal namespace; a new one makes older orders uncomparable (EXISTING).
     */
    ORDER_FINGERPRINT_KEY: z.string().min(1).optional(),
    ORDER_FINGERPRINT_KEY_FILE: z.string().min(1).optional(),
    /**
     * Quiet time after the last news from D1 (a notification, or a poll that found a change) before the order polls
     * D1's status endpoint. Real production takes days between stages: polls are the fallback. @default 4h
     */
    ORDER_NOTIFICATION_TIMEOUT: durationMs.default(4 * 3_600_000),
    /** Interval after the first poll; it doubles with each poll that finds nothing new. @default 4h */
    ORDER_POLL_INTERVAL: durationMs.default(4 * 3_600_000),
    /**
     * The most time between two polls (and before D1's estimated shipment date, the poll interval): how late, at
     * worst, an order learns what a lost notification said. @default 24h
     */
    ORDER_POLL_MAX_INTERVAL: durationMs.default(24 * 3_600_000),
    /**
     * Quiet time after a Pull & change request (a cancel) before polling for D1's verdict, doubling from there to
     * ORDER_POLL_MAX_INTERVAL: a person waits on it. @default 15m
     */
    ORDER_CHANGE_VERDICT_TIMEOUT: durationMs.default(15 * 60_000),
    /** Default overall limit of an order; past it, it is compensated. @default 30d */
    ORDER_PRODUCTION_DEADLINE: durationMs.default(30 * 86_400_000),
    /** Wait before re-ordering a card D1 reported OUT_OF_STOCK. @default 1h */
    ORDER_OUT_OF_STOCK_REORDER_DELAY: durationMs.default(3_600_000),
    /**
     * How long the transient failures (5xx, 429, timeouts, refused credentials) of a D1 call that must succeed
     * (submit, cancel, compensation) are retried in one go. Past it the order waits as D1_UNREACHABLE and tries
     * again later; only a permanent answer from D1 fails it. @default 1h
     */
    ORDER_D1_RETRY_TIMEOUT: durationMs.default(3_600_000),
    /**
     * The most time between two tries of a D1 call while D1 is unreachable: the waits double from
     * ORDER_D1_RETRY_TIMEOUT up to this. @default 6h
     */
    ORDER_D1_OUTAGE_MAX_INTERVAL: durationMs.default(6 * 3_600_000),
    /**
     * The first wait after a failed delivery of an order's issuer events (its activity retried a few times within a
     * minute first); the waits double from here, for as long as the order lives. @default 1m
     */
    ISSUER_EVENTS_RETRY_INTERVAL: durationMs.default(60_000),
    /** The most time between two deliveries of an order's issuer events while the endpoint fails. @default 6h */
    ISSUER_EVENTS_MAX_RETRY_INTERVAL: durationMs.default(6 * 3_600_000),
    /**
     * How long a shipped order keeps listening for D1's shipment updates and a CARD_RETURNED report before it
     * completes. It waits on one timer: no polls. @default 30d
     */
    ORDER_DELIVERY_WINDOW: durationMs.default(30 * 86_400_000),
    /**
     * How long a returned card waits for the issuer's corrected address (the re-ship update) when its program
     * re-ships returned cards; then the order ends RETURNED. @default 30d
     */
    ORDER_RESHIP_WAIT: durationMs.default(30 * 86_400_000),
    /** Re-orders of an OUT_OF_STOCK card before it is compensated. @default 1 */
    ORDER_OUT_OF_STOCK_MAX_REORDERS: z.coerce.number().int().min(0).max(MAX_REORDERS).default(1),
    /** Activities one worker runs at once. @default 50 */
    WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(2000).default(50),
    /** Workflow tasks one worker runs at once. @default 40 */
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(2000).default(40),
    /**
     * Workflows one worker keeps in memory between their tasks (the sticky cache). An order waits hours to days
     * between tasks, so caching more of them buys little (one replay of a short history when its next task comes)
     * and costs memory (the SDK plans for about 600 per GB of heap; 1,000 took a worker past 1 GB under a 100,000-card
     * campaign). Load tests, where each card is busy every few seconds, want more.
     * @default 500
     */
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(2).max(100_000).default(500),
    /** Calls per second to D1 across every worker of the task queue (a server-side limit); unset: none. */
    D1_RATE_LIMIT_PER_SECOND: z.coerce.number().positive().optional(),
    /**
     * When the reconciliation runs: a five-field cron expression (`minute hour day-of-month month day-of-week`),
     * always in UTC (no `CRON_TZ=`), e.g. `0 2 * * *` for 02:00 UTC every night. The worker keeps the Temporal
     * Schedule `reconcile-orders:{TEMPORAL_TASK_QUEUE}` to it at start; unset (the default), it deletes that Schedule.
     * @default unset (off)
     */
    RECONCILE_SCHEDULE: z
      .string()
      .trim()
      .superRefine((value, ctx) => {
        const issue = cronExpressionIssue(value);
        if (issue) ctx.addIssue({ code: 'custom', message: `must be a cron expression in UTC: ${issue}` });
      })
      .optional(),
    /** Open orders the reconciliation reads per visibility page (one activity per page). @default 200 */
    RECONCILE_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
    /** D1 status calls at once while the reconciliation checks one page. @default 4 */
    RECONCILE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),

    /** Where the notification webhook listens. @default 127.0.0.1:8091 */
    WEBHOOK_HOST: z.string().min(1).default('127.0.0.1'),
    WEBHOOK_PORT: port.default(8091),
    /**
     * Who may get a webhook token: JSON `[{clientId, clientSecret, issuerIds}]`. Required: unset, the webhook refuses
     * to start, except with DEMO_MODE=true, where it defaults to the simulator's public demo credentials
     * (`d1-simulator` / `d1-simulator-secret`) for D1_ISSUER_ID (those are refused outside the demo).
     */
    WEBHOOK_CLIENTS: z.string().min(1).optional(),
    /** Secret (base64, at least 32 bytes) that signs the webhook's access tokens, inline (wins) or in a file. */
    WEBHOOK_TOKEN_SECRET: z.string().min(1).optional(),
    WEBHOOK_TOKEN_SECRET_FILE: z.string().min(1).optional(),
    /** Lifetime of the access tokens the webhook issues to D1. @default 15m */
    WEBHOOK_TOKEN_TTL: durationMs.default(15 * 60_000),
    /** Larger notification bodies get 413. @default 1048576 */
    WEBHOOK_BODY_LIMIT_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1_048_576),
    /** How long a batch may take to reach Temporal before the answer is 503 (D1 then retries). @default 5s */
    WEBHOOK_SIGNAL_TIMEOUT: durationMs.default(5_000),
    /** How long notifications for no running order are kept (queryable) after the last one. @default 30d */
    WEBHOOK_UNMATCHED_RETENTION: durationMs.default(30 * 86_400_000),
    /** Mutual TLS for D1's calls: our server certificate and key, and the CA that D1's client certificate chains to. */
    WEBHOOK_TLS_CERT_FILE: z.string().min(1).optional(),
    WEBHOOK_TLS_KEY_FILE: z.string().min(1).optional(),
    WEBHOOK_TLS_CA_FILE: z.string().min(1).optional(),
    /** Refuse TLS clients without a certificate from WEBHOOK_TLS_CA_FILE. @default false */
    WEBHOOK_REQUIRE_CLIENT_CERT: z.stringbool().default(false),

    /** Where the worker serves Prometheus metrics (the SDK's exporter); 0 turns them off. @default 9464 */
    WORKER_METRICS_PORT: port.default(9464),
    /** Where the webhook serves Prometheus metrics, apart from its public port; 0 turns them off. @default 9465 */
    WEBHOOK_METRICS_PORT: port.default(9465),
    /** Interface the metrics endpoints bind to. @default 127.0.0.1 */
    METRICS_HOST: z.string().min(1).default('127.0.0.1'),

    /** Where the codec server (Web UI and CLI decoding) listens. @default 127.0.0.1:8888 */
    CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
    CODEC_SERVER_PORT: port.default(8888),
    /**
     * A static token for machines (`temporal --codec-auth "Bearer <token>"`). The codec server needs it or
     * CODEC_SERVER_OIDC_ISSUER to start, except with DEMO_MODE=true, where it answers without a token.
     */
    CODEC_SERVER_AUTH_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Browser origins allowed to call it, comma-separated. @default the Web UI at localhost and 127.0.0.1 */
    CODEC_SERVER_ALLOWED_ORIGINS: z.string().min(1).optional(),
    /**
     * People: the OpenID provider whose access tokens (Web UI's signed-in user) the codec server takes, as its
     * issuer URL. Its keys come from CODEC_SERVER_OIDC_JWKS_URL, or else from its discovery document.
     */
    CODEC_SERVER_OIDC_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
    /** The `aud` an access token must name (the codec server's resource identifier at the provider). */
    CODEC_SERVER_OIDC_AUDIENCE: z.string().min(1).optional(),
    CODEC_SERVER_OIDC_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
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
      ),
    /** The token claim holding the caller's groups or roles (a string or a list). @default groups */
    CODEC_SERVER_OIDC_ROLES_CLAIM: z.string().min(1).default('groups'),
    /**
     * Which namespaces each group or role may encode and decode, JSON `{"<group>": ["<namespace>", ...]}` (`"*"`:
     * every namespace). Required with CODEC_SERVER_OIDC_ISSUER; a token without a listed group decodes nothing.
     */
    CODEC_SERVER_OIDC_NAMESPACES: z.string().min(1).optional(),
    /** Leeway for `exp` and `nbf` against the provider's clock. @default 30s */
    CODEC_SERVER_OIDC_CLOCK_TOLERANCE: durationMs.pipe(z.number().max(300_000, 'must be at most 5m')).default(30_000),
    /** HTTPS for the codec server (Web UI passes access tokens only to an https:// endpoint): certificate and key. */
    CODEC_SERVER_TLS_CERT_FILE: z.string().min(1).optional(),
    CODEC_SERVER_TLS_KEY_FILE: z.string().min(1).optional(),
    /** Where the codec server serves Prometheus metrics (on METRICS_HOST); 0 turns them off. @default 9463 */
    CODEC_SERVER_METRICS_PORT: port.default(9463),
  })
  .superRefine((env, ctx) => {
    // A certificate without its key (or the reverse) is a half-configured TLS setup: name the missing half.
    for (const [cert, key] of [
      ['TEMPORAL_TLS_CERT_FILE', 'TEMPORAL_TLS_KEY_FILE'],
      ['D1_TLS_CERT_FILE', 'D1_TLS_KEY_FILE'],
      ['WEBHOOK_TLS_CERT_FILE', 'WEBHOOK_TLS_KEY_FILE'],
      ['CODEC_SERVER_TLS_CERT_FILE', 'CODEC_SERVER_TLS_KEY_FILE'],
    ] as const) {
      if (Boolean(env[cert]) !== Boolean(env[key])) {
        ctx.addIssue({ code: 'custom', path: [env[cert] ? key : cert], message: `TLS needs both ${cert} and ${key}` });
      }
    }
    if (env.CODEC_SERVER_OIDC_ISSUER) {
      for (const key of ['CODEC_SERVER_OIDC_AUDIENCE', 'CODEC_SERVER_OIDC_NAMESPACES'] as const) {
        if (!env[key])
          ctx.addIssue({ code: 'custom', path: [key], message: 'is required with CODEC_SERVER_OIDC_ISSUER' });
      }
    } else {
      // Half an OIDC setup is a mistake to name, not to ignore.
      for (const key of [
        'CODEC_SERVER_OIDC_AUDIENCE',
        'CODEC_SERVER_OIDC_NAMESPACES',
        'CODEC_SERVER_OIDC_JWKS_URL',
      ] as const) {
        if (env[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'needs CODEC_SERVER_OIDC_ISSUER' });
      }
    }
    if (env.CAMPAIGN_STORE === 'postgres' && !env.CAMPAIGN_STORE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAMPAIGN_STORE_URL'],
        message: 'is required with CAMPAIGN_STORE=postgres',
      });
    }
    // The SDK refuses a cache smaller than the tasks it runs at once.
    if (env.WORKER_MAX_CACHED_WORKFLOWS < env.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKER_MAX_CACHED_WORKFLOWS'],
        message: 'must be at least WORKER_MAX_CONCURRENT_WORKFLOW_TASKS',
      });
    }
  });

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
