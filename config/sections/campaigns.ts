/**
 * Campaigns: where their pages are stored, D1 batches, and how fast a campaign goes. One part of the environment
 * schema (../env-schema.ts).
 *
 * @module
 */
import { z } from 'zod';
import { durationMs } from '../../common/duration.js';
import { postgresUrlIssue } from '../env-fields.js';

export const campaignEnv = {
  /**
   * Where campaigns keep their cards between ingestion and submission (pages encrypted with the payload codec's
   * keys). The CLI writes it and every worker reads it: one machine, or a volume all of them mount.
   * @default .data/campaigns
   */
  CAMPAIGN_STORE_DIR: z
    .string()
    .min(1)
    .default('.data/campaigns')
    .describe(
      "The `file` store's folder: where campaign cards wait between ingestion and submission, each page encrypted with the payload codec's keys. The CLI writes it and every worker reads it.",
    ),
  /**
   * Where campaign pages live: `file` (CAMPAIGN_STORE_DIR, one machine or a shared volume) or `postgres`
   * (CAMPAIGN_STORE_URL, shared by every machine). @default file
   */
  CAMPAIGN_STORE: z
    .enum(['file', 'postgres'])
    .default('file')
    .describe(
      'Where campaign pages live: `file` (`CAMPAIGN_STORE_DIR`, one machine or a shared volume) or `postgres` (`CAMPAIGN_STORE_URL`, shared by every machine).',
    ),
  /**
   * The PostgreSQL store, as `postgres://user@host:port/database` (`?sslmode=require` for TLS). A password may be
   * in it, or better in CAMPAIGN_STORE_PASSWORD_FILE; it is never logged.
   */
  CAMPAIGN_STORE_URL: z
    .string()
    .refine((url) => postgresUrlIssue(url) === undefined, {
      message: 'must be postgres://user@host[:port]/database',
    })
    .optional()
    .describe(
      'The `postgres` store, `postgres://user@host:port/database` (`?sslmode=require`: TLS); required with `CAMPAIGN_STORE=postgres`. A password may be in it, or better in `CAMPAIGN_STORE_PASSWORD_FILE`; never logged.',
    ),
  /** A file holding the PostgreSQL store's password (wins over one in CAMPAIGN_STORE_URL). */
  CAMPAIGN_STORE_PASSWORD_FILE: z
    .string()
    .min(1)
    .optional()
    .describe("A file holding the `postgres` store's password (wins over one in the URL)."),
  /** Connections to the PostgreSQL store per process. @default 4 */
  CAMPAIGN_STORE_MAX_CONNECTIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(4)
    .describe('Connections to the `postgres` store per process.'),
  /** How long a completed campaign's pages (card data) are kept before the workers delete them. @default 30d */
  CAMPAIGN_STORE_RETENTION: durationMs
    .default(30 * 86_400_000)
    .describe('How long after a campaign ended the workers delete its pages (card data).'),
  /** Cards per D1 batch "Order cards" call, and per stored page of a campaign (D1 takes 1 to 1000). @default 1000 */
  D1_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(1000)
    .describe('Cards per D1 batch "Order cards" call, and per stored page of a campaign (D1 takes 1 to 1000).'),
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
    )
    .describe("Issuers without D1's batch API (comma list): their campaigns order each card with a single-order call."),
  /** The most cards of one campaign in flight (submitted, not yet shipped) before its next page waits. @default 10000 */
  CAMPAIGN_MAX_IN_FLIGHT: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(10_000)
    .describe(
      "The most cards of one campaign submitted and not yet shipped before its next page waits; in load tests, keep it under the workers' cache (see Pace in docs/campaigns.md).",
    ),
  /**
   * The most card-order workflow tasks waiting for a worker (the server's backlog of the cards' task queue) before a
   * campaign's next page waits: pages go no faster than the workers take their cards, and single orders are not
   * stuck behind a campaign. @default 1000
   */
  CAMPAIGN_MAX_CARD_BACKLOG: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(1000)
    .describe(
      "Card-order workflow tasks waiting for a worker (the backlog of the cards' task queue) above which a campaign's next page waits: pages go no faster than the workers take their cards, and single orders are not stuck behind a campaign.",
    ),
  /**
   * How soon a campaign first looks again at its cards (to submit the next page, or to end); the wait doubles while
   * nothing moves, up to CAMPAIGN_CHECK_MAX_INTERVAL. @default 1m
   */
  CAMPAIGN_CHECK_INTERVAL: durationMs
    .default(60_000)
    .describe(
      'How soon a campaign first looks at its cards again (to submit the next page, or to end); the wait doubles while nothing moves, up to `CAMPAIGN_CHECK_MAX_INTERVAL`.',
    ),
  /** The longest wait between two looks: cards take days to ship, so looks are rare then. @default 6h */
  CAMPAIGN_CHECK_MAX_INTERVAL: durationMs
    .default(6 * 3_600_000)
    .describe(
      'The longest wait between two looks of a campaign at its cards: cards take days to ship, so looks are rare then.',
    ),
  /** How long a campaign card waits for its batch before it orders itself (D1 dedupes by request id). @default 1h */
  CAMPAIGN_CARD_SUBMIT_TIMEOUT: durationMs
    .default(3_600_000)
    .describe('How long a campaign card waits for its batch before it orders itself (D1 dedupes by request id).'),
  /** How soon a worker lost in the middle of a campaign page is noticed, and the page given to another. @default 1m */
  CAMPAIGN_PAGE_HEARTBEAT_TIMEOUT: durationMs
    .default(60_000)
    .describe('How soon a worker lost mid-page is noticed and the page handed to another.'),
  /** Timeout of one D1 batch call (up to D1_BATCH_SIZE cards). @default 60s */
  D1_BATCH_REQUEST_TIMEOUT: durationMs
    .default(60_000)
    .describe('Timeout of one D1 batch call (up to `D1_BATCH_SIZE` cards).'),
};
