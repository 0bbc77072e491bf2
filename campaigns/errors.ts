/**
 * The typed errors of campaigns: their files, their runs and their stored pages. Codes and the base class are in
 * ../common/errors.ts.
 *
 * @module
 */
import { CardOrderError } from '../common/errors.js';

/**
 * Thrown when a campaign file has lines that are not valid orders (and the caller did not choose to skip them):
 * nothing was stored or sent. Names each line and field, never a value.
 */
export class CampaignFileError extends CardOrderError {
  readonly code = 'ERR_CAMPAIGN_FILE_INVALID' as const;

  constructor(
    readonly invalid: number,
    /** The first invalid lines, each with its issues by field. */
    readonly lines: readonly { line: number; issues: readonly { field: string; reason: string }[] }[],
    problem?: string,
  ) {
    super(
      problem ??
        `${invalid} line(s) of the campaign file are not valid orders: ` +
          lines
            .slice(0, 5)
            .map((l) => `line ${l.line}: ${l.issues.map((issue) => `${issue.field} ${issue.reason}`).join('; ')}`)
            .join(' | '),
    );
  }
}

/** Thrown when a campaign id is already used for another file (another SHA-256): nothing of the new file is kept. */
export class CampaignConflictError extends CardOrderError {
  readonly code = 'CAMPAIGN_CONFLICT' as const;

  constructor(readonly campaignId: string) {
    super(`Campaign ${campaignId} was started with a different file; a new file needs a new campaign id`);
  }
}

/**
 * Thrown when a campaign that already ran (COMPLETED or CANCELLED, or started and gone from Temporal with no
 * recorded end) is started again: its card ids may be free again after retention, and a new run would order every
 * card a second time. Only a FAILED campaign, still known to Temporal, may be started again.
 */
export class CampaignAlreadyRanError extends CardOrderError {
  readonly code = 'CAMPAIGN_ALREADY_RAN' as const;

  constructor(
    readonly campaignId: string,
    /** How it ended (COMPLETED, CANCELLED, FAILED), or UNKNOWN when no end was recorded. */
    readonly ended: string,
    readonly startedAt: string | undefined,
  ) {
    super(
      `Campaign ${campaignId} already ran (started ${startedAt ?? 'before'}, ended ${ended}); ` +
        'a campaign runs once: order the cards still needed under a new campaign id',
    );
  }
}

/**
 * Thrown when a stored campaign page is absent or cannot be opened (another store, another key ring, damaged):
 * waiting does not bring it back, so the page fails for good instead of being retried for ever.
 */
export class CampaignPageMissingError extends CardOrderError {
  readonly code = 'CAMPAIGN_PAGE_MISSING' as const;

  constructor(
    readonly issuerId: string,
    readonly campaignId: string,
    readonly page: number,
    readonly problem: 'missing' | 'unreadable',
    options?: { cause?: unknown },
  ) {
    super(
      problem === 'missing'
        ? `Page ${page} of campaign ${campaignId} is not in the campaign store (is every process on the same CAMPAIGN_STORE?)`
        : `Page ${page} of campaign ${campaignId} cannot be read from the campaign store (damaged, or sealed with a codec key this process does not have)`,
      options,
    );
  }
}

/**
 * Thrown when a campaign's manifest changed since it was read (another process wrote it): read it again and
 * retry. Retryable by nature.
 */
export class CampaignStoreConflictError extends CardOrderError {
  readonly code = 'ERR_CAMPAIGN_STORE_CONFLICT' as const;
  override readonly retryable = true;

  constructor(
    readonly issuerId: string,
    readonly campaignId: string,
  ) {
    super(`The manifest of campaign ${campaignId} was changed by another process meanwhile`);
  }
}

/** Thrown when there is no campaign under the given issuer and campaign id. */
export class CampaignNotFoundError extends CardOrderError {
  readonly code = 'CAMPAIGN_NOT_FOUND' as const;

  constructor(
    readonly issuerId: string,
    readonly campaignId: string,
    options?: { cause?: unknown },
  ) {
    super(`No campaign ${campaignId} for issuer ${issuerId}`, options);
  }
}
