/**
 * Orders: the program catalog, issuer events, payload codec keys, order fingerprints and every timer of an order. One
 * part of the environment schema (../env-schema.ts).
 *
 * @module
 */
import { z } from 'zod';
import { durationMs } from '../../common/duration.js';
import { MAX_REORDERS } from '../../orders/reorder-id.js';

export const orderEnv = {
  /** The issuer's programs (per card product: delivery, carriers, packaging, inserts, shipment, countries). */
  PROGRAM_CATALOG_FILE: z
    .string()
    .min(1)
    .default('config/program-catalog.json')
    .describe(
      "The issuer's programs, per card product (delivery, carriers, packaging, inserts, shipment, countries, issuance types, returns).",
    ),
  /** Where lifecycle events go (signed JSON, at least once); unset: no events. */
  ISSUER_EVENTS_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Where lifecycle events go (signed JSON, at least once); unset: no events.'),
  /** ES256 key that signs issuer events: a JWK or PKCS#8 PEM, inline (wins) or in a file. */
  ISSUER_EVENTS_SIGNING_KEY: z
    .string()
    .min(1)
    .optional()
    .describe('ES256 key that signs issuer events, inline: a JWK or PKCS#8 PEM (wins over the file).'),
  ISSUER_EVENTS_SIGNING_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('The same key in a file; unset: `issuer-events-signing.private.jwk.json` in `KEYS_DIR`.'),
  ISSUER_EVENTS_SIGNING_KEY_ID: z
    .string()
    .min(1)
    .optional()
    .describe("The `kid` of the issuer events' signing key; unset: the JWK's `kid`."),
  /** The payload codec's AES-256 key ring, JSON `{activeKeyId, keys: {id: base64}}`, inline (wins) or in a file. */
  PAYLOAD_CODEC_KEYS: z
    .string()
    .min(1)
    .optional()
    .describe(
      "The payload codec's AES-256 key ring, inline: JSON `{activeKeyId, keys: {id: base64}}` (wins over the file). To rotate, add a key and move `activeKeyId`.",
    ),
  PAYLOAD_CODEC_KEYS_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('The same key ring in a file; unset: `payload-codec-keys.json` in `KEYS_DIR`.'),
  /**
   * Seal new payloads to TEMPORAL_NAMESPACE (the codec server then holds namespace grants for ciphertext too).
   * Every release since decodes sealed and unsealed payloads; upgrading workers of a release from before, deploy
   * with `false` first, then `true` once no older worker runs. @default true
   */
  PAYLOAD_CODEC_SEAL_NAMESPACE: z
    .stringbool()
    .default(true)
    .describe(
      "Seal new payloads to `TEMPORAL_NAMESPACE` (the codec server's namespace grants then hold for ciphertext too). Every release since decodes sealed and unsealed payloads; upgrading workers of a release from before, deploy with `false` first, then `true` once no older worker runs.",
    ),
  /**
   * Base64 secret (32 bytes or more) that keys the order fingerprints: placing an issuerRequestId again with a
   * different order is refused as ORDER_CONFLICT, naming the fields that differ. Inline (wins) or in a file. The
   * same secret for every client of one Temporal namespace; a new one makes older orders uncomparable (EXISTING).
   */
  ORDER_FINGERPRINT_KEY: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Base64 secret (32 bytes or more), inline (wins over the file), that keys the order fingerprints: an `issuerRequestId` placed again with a different order is refused as `ORDER_CONFLICT`. One secret for every client of a Temporal namespace; a new one makes older orders uncomparable (`EXISTING`).',
    ),
  ORDER_FINGERPRINT_KEY_FILE: z
    .string()
    .min(1)
    .optional()
    .describe('The same secret in a file; unset: `order-fingerprint-key` in `KEYS_DIR`.'),
  /**
   * Quiet time after the last news from D1 (a notification, or a poll that found a change) before the order polls
   * D1's status endpoint. Real production takes days between stages: polls are the fallback. @default 4h
   */
  ORDER_NOTIFICATION_TIMEOUT: durationMs
    .default(4 * 3_600_000)
    .describe(
      "Quiet time after the last news from D1 (a notification, or a poll that found a change) before the order polls D1's status endpoint. Real production takes days between stages: polls are the fallback.",
    ),
  /** Interval after the first poll; it doubles with each poll that finds nothing new. @default 4h */
  ORDER_POLL_INTERVAL: durationMs
    .default(4 * 3_600_000)
    .describe('Poll interval after the first poll; it doubles with each poll that finds nothing new.'),
  /**
   * The most time between two polls (and before D1's estimated shipment date, the poll interval): how late, at
   * worst, an order learns what a lost notification said. @default 24h
   */
  ORDER_POLL_MAX_INTERVAL: durationMs
    .default(24 * 3_600_000)
    .describe(
      "The most time between two polls, and the interval before D1's `dueDate`: how late, at worst, an order learns what a lost notification said.",
    ),
  /**
   * Quiet time after a Pull & change request (a cancel) before polling for D1's verdict, doubling from there to
   * ORDER_POLL_MAX_INTERVAL: a person waits on it. @default 15m
   */
  ORDER_CHANGE_VERDICT_TIMEOUT: durationMs
    .default(15 * 60_000)
    .describe(
      "Quiet time after a Pull & change request (a cancel, a change) before polling for D1's verdict, doubling from there to `ORDER_POLL_MAX_INTERVAL`: a person waits on it.",
    ),
  /** Default overall limit of an order; past it, it is compensated. @default 30d */
  ORDER_PRODUCTION_DEADLINE: durationMs
    .default(30 * 86_400_000)
    .describe(
      'Default overall limit of an order (per order: `timings.productionDeadline`); past it, the order is compensated.',
    ),
  /** Wait before re-ordering a card D1 reported OUT_OF_STOCK. @default 1h */
  ORDER_OUT_OF_STOCK_REORDER_DELAY: durationMs
    .default(3_600_000)
    .describe('Wait before re-ordering a card D1 reported `OUT_OF_STOCK`.'),
  /**
   * How long the transient failures (5xx, 429, timeouts, refused credentials) of a D1 call that must succeed
   * (submit, cancel, compensation) are retried in one go. Past it the order waits as D1_UNREACHABLE and tries
   * again later; only a permanent answer from D1 fails it. @default 1h
   */
  ORDER_D1_RETRY_TIMEOUT: durationMs
    .default(3_600_000)
    .describe(
      'How long the transient failures (5xx, 429, timeouts, refused credentials) of a D1 call that must succeed (submit, cancel, compensation) are retried in one go. Past it the order waits as `D1_UNREACHABLE` and tries again later; only a permanent answer from D1 fails it.',
    ),
  /**
   * The most time between two tries of a D1 call while D1 is unreachable: the waits double from
   * ORDER_D1_RETRY_TIMEOUT up to this. @default 6h
   */
  ORDER_D1_OUTAGE_MAX_INTERVAL: durationMs
    .default(6 * 3_600_000)
    .describe(
      'The most time between two tries of a D1 call while D1 is unreachable: the waits double from `ORDER_D1_RETRY_TIMEOUT` up to this.',
    ),
  /**
   * The first wait after a failed delivery of an order's issuer events (its activity retried a few times within a
   * minute first); the waits double from here, for as long as the order lives. @default 1m
   */
  ISSUER_EVENTS_RETRY_INTERVAL: durationMs
    .default(60_000)
    .describe(
      "The first wait after a failed delivery of an order's issuer events (its activity retried a few times within a minute first); the waits double from here, for as long as the order lives.",
    ),
  /** The most time between two deliveries of an order's issuer events while the endpoint fails. @default 6h */
  ISSUER_EVENTS_MAX_RETRY_INTERVAL: durationMs
    .default(6 * 3_600_000)
    .describe("The most time between two deliveries of an order's issuer events while the endpoint fails."),
  /**
   * How long a shipped order keeps listening for D1's shipment updates and a CARD_RETURNED report before it
   * completes. It waits on one timer: no polls. @default 30d
   */
  ORDER_DELIVERY_WINDOW: durationMs
    .default(30 * 86_400_000)
    .describe(
      'How long a shipped order listens for carrier updates and a `CARD_RETURNED` report before it completes, on one timer, no polls (per order: `timings.deliveryWindow`; `0ms`: it ends at shipment).',
    ),
  /**
   * How long a returned card waits for the issuer's corrected address (the re-ship update) when its program
   * re-ships returned cards; then the order ends RETURNED. @default 30d
   */
  ORDER_RESHIP_WAIT: durationMs
    .default(30 * 86_400_000)
    .describe(
      "How long a returned card waits for the issuer's corrected address (the re-ship update) when its program re-ships returned cards; then the order ends `RETURNED`.",
    ),
  /** Re-orders of an OUT_OF_STOCK card before it is compensated. @default 1 */
  ORDER_OUT_OF_STOCK_MAX_REORDERS: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_REORDERS)
    .default(1)
    .describe('Re-orders of an `OUT_OF_STOCK` card before it is compensated.'),
};
