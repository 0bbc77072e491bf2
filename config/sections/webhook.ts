/**
 * The notification webhook, and where the worker and the webhook serve metrics. One part of the environment schema
 * (../env-schema.ts).
 *
 * @module
 */
import { z } from 'zod';
import { durationMs } from '../../common/duration.js';
import { port } from '../env-fields.js';

export const webhookEnv = {
  /** Where the notification webhook listens. @default 127.0.0.1:8091 */
  WEBHOOK_HOST: z.string().min(1).default('127.0.0.1').describe('Interface the notification webhook listens on.'),
  WEBHOOK_PORT: port.default(8091).describe('Port the notification webhook listens on.'),
  /**
   * Who may get a webhook token: JSON `[{clientId, clientSecret, issuerIds}]`. Required: unset, the webhook refuses
   * to start, except with DEMO_MODE=true, where it defaults to the simulator's public demo credentials
   * (`d1-simulator` / `d1-simulator-secret`) for D1_ISSUER_ID (those are refused outside the demo).
   */
  WEBHOOK_CLIENTS: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Who may get a webhook token: JSON `[{clientId, clientSecret, issuerIds}]`. Required: unset, the webhook refuses to start, except with `DEMO_MODE=true`, where it defaults to the simulator's public credentials (`d1-simulator` / `d1-simulator-secret`) for `D1_ISSUER_ID` (refused outside the demo).",
    ),
  /** Secret (base64, at least 32 bytes) that signs the webhook's access tokens, inline (wins) or in a file. */
  WEBHOOK_TOKEN_SECRET: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Secret (base64, 32 bytes or more) that signs the webhook's access tokens, inline (wins over the file); the same on every replica.",
    ),
  WEBHOOK_TOKEN_SECRET_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('The same secret in a file; unset: `webhook-token-secret` in `KEYS_DIR`.'),
  /** Lifetime of the access tokens the webhook issues to D1. @default 15m */
  WEBHOOK_TOKEN_TTL: durationMs
    .default(15 * 60_000)
    .describe('Lifetime of the access tokens the webhook issues to D1.'),
  /** Larger notification bodies get 413. @default 1048576 */
  WEBHOOK_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1_048_576)
    .describe('Larger notification bodies get 413.'),
  /** How long a batch may take to reach Temporal before the answer is 503 (D1 then retries). @default 5s */
  WEBHOOK_SIGNAL_TIMEOUT: durationMs
    .default(5_000)
    .describe(
      "The one deadline for all of a batch's signals and lookups to reach Temporal before the answer is 503 (D1 then retries).",
    ),
  /** How long notifications for no running order are kept (queryable) after the last one. @default 30d */
  WEBHOOK_UNMATCHED_RETENTION: durationMs
    .default(30 * 86_400_000)
    .describe('How long notifications for cards with no order of ours are kept (queryable) after the last one.'),
  /** Mutual TLS for D1's calls: our server certificate and key, and the CA that D1's client certificate chains to. */
  WEBHOOK_TLS_CERT_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Serve HTTPS: our server certificate (PEM file); needs `WEBHOOK_TLS_KEY_FILE`.'),
  WEBHOOK_TLS_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('Serve HTTPS: our server key (PEM file); needs `WEBHOOK_TLS_CERT_FILE`.'),
  WEBHOOK_TLS_CA_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("The CA that D1's client certificate chains to (PEM file), for mutual TLS."),
  /** Refuse TLS clients without a certificate from WEBHOOK_TLS_CA_FILE. @default false */
  WEBHOOK_REQUIRE_CLIENT_CERT: z
    .stringbool()
    .default(false)
    .describe(
      'Refuse TLS clients without a certificate from `WEBHOOK_TLS_CA_FILE`: mutual TLS, as D1 requires in production.',
    ),

  /** Where the worker serves Prometheus metrics (the SDK's exporter); 0 turns them off. @default 9464 */
  WORKER_METRICS_PORT: port
    .default(9464)
    .describe(
      "Where the worker serves Prometheus metrics (the SDK's exporter and the workflows' counters), on `METRICS_HOST`; `0` turns them off.",
    ),
  /** Where the webhook serves Prometheus metrics, apart from its public port; 0 turns them off. @default 9465 */
  WEBHOOK_METRICS_PORT: port
    .default(9465)
    .describe(
      'Where the webhook serves Prometheus metrics, apart from its public port, on `METRICS_HOST`; `0` turns them off.',
    ),
  /** Interface the metrics endpoints bind to. @default 127.0.0.1 */
  METRICS_HOST: z.string().min(1).default('127.0.0.1').describe('Interface the metrics endpoints bind to.'),
};
