/**
 * Turns a campaign file into stored pages of ready orders, in two streamed passes. The first checks every line (the
 * order schema, the program catalog, the campaign's issuer, an issuerRequestId or a cardId used twice in the file, a
 * cardId that already has an open order of ours) and hashes the file; a file with bad lines is refused then, before
 * anything is stored, unless the caller skips them. The second
 * encrypts each valid card's data to D1's key and writes pages of `pageSize` cards; pages already written (a start
 * cut off mid-file) are kept, so a second start resumes where the first stopped.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CampaignConflictError, CampaignFileError } from './errors.js';
import type { OrderFingerprint } from '../orders/fingerprint.js';
import { cardOrderWorkflowId, type CardOrder } from '../orders/schema.js';
import { readCampaignFile, type CampaignFileFormat } from './campaign-file.js';
import {
  MAX_INVALID_LINES_KEPT,
  updateManifest,
  type CampaignCard,
  type CampaignManifest,
  type CampaignPageStore,
  type InvalidLine,
} from './page-store.js';

/** How one line is judged and made ready: the client's own order checks, so a campaign card is a single order. */
export interface CardPreparation {
  /** Every way `record` is not a valid order (schema, program); empty when it is one. */
  issues(record: unknown): { field: string; reason: string }[];
  /** The order as the workflow runs it (card data encrypted to D1's key) and its fingerprint. */
  prepare(record: unknown): Promise<{ order: CardOrder; fingerprint: OrderFingerprint }>;
}

export interface IngestOptions {
  file: string;
  format: CampaignFileFormat;
  issuerId: string;
  campaignId: string;
  /** Go on with the valid lines when some are not (default: refuse the file). */
  skipInvalid: boolean;
  pageSize: number;
  store: CampaignPageStore;
  cards: CardPreparation;
  /** Called after each page is stored. */
  onPage?: (manifest: CampaignManifest) => void;
  /**
   * The open card orders of ours (any campaign, or single orders) of these cardIds: one lookup per
   * {@link OPEN_ORDER_LOOKUP_SIZE} lines. A line whose card has one (other than the line's own order) is invalid.
   */
  openOrders?: (cardIds: readonly string[]) => Promise<OpenCardOrder[]>;
}

/** A card order still open, as the open-order check names it: ids only. */
export interface OpenCardOrder {
  cardId: string;
  workflowId: string;
  issuerRequestId: string;
}

/**
 * CardIds looked up at once. 500 keeps one visibility query under ~20 KB and makes 100,000 cards 200 queries;
 * smaller multiplies the round trips, larger makes each query (an IN list) slower to plan on SQL visibility.
 */
export const OPEN_ORDER_LOOKUP_SIZE = 500;

/** The SHA-256 of the file's bytes, streamed. */
export async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The record, with the campaign's issuer when it names none (a CSV may leave the column out). */
function withIssuer(record: unknown, issuerId: string): unknown {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return record;
  return 'issuerId' in record ? record : { issuerId, ...record };
}

/** A string field of a record (issuerRequestId, cardId), when it has one. */
function idOf(record: unknown, field: 'issuerRequestId' | 'cardId'): string | undefined {
  const id = (record as Record<string, unknown> | null)?.[field];
  return typeof id === 'string' ? id : undefined;
}

type Issue = { field: string; reason: string };

/** A line judged but for its open-order lookup, which waits for a full group of cardIds. */
interface JudgedLine {
  line: number;
  issues: Issue[];
  cardId: string | undefined;
  /** The workflow id the line's own order has: an open order under it is this card, not another order of it. */
  ownWorkflowId: string | undefined;
}

/**
 * Checks the whole file and, if it may go on, stores its valid cards in pages. Returns the campaign's manifest.
 *
 * @throws {CampaignFileError} naming the bad lines, when some are and `skipInvalid` is false, or none is valid.
 * @throws {CampaignConflictError} when the campaign id was ingested from another file.
 */
export async function ingestCampaignFile(options: IngestOptions): Promise<CampaignManifest> {
  const { file, format, issuerId, campaignId, store, cards } = options;
  const digest = await fileDigest(file);
  const existing = await store.readManifest(issuerId, campaignId);
  if (existing && existing.fileDigest !== digest) throw new CampaignConflictError(campaignId);
  if (existing?.complete) return existing;
  // A resumed storing keeps the pages it began with, whatever D1_BATCH_SIZE says now.
  const pageSize = existing?.pageSize ?? options.pageSize;

  // Pass 1: judge every line, store nothing.
  const invalidLines: InvalidLine[] = [];
  const validLines = new Set<number>();
  const firstRequest = new Map<string, number>();
  const firstCard = new Map<string, number>();
  let total = 0;
  let judged: JudgedLine[] = [];
  // Lines are settled in groups (one open-order lookup each) and in file order, so invalidLines stays sorted.
  const settle = async () => {
    await findOpenOrders(judged);
    for (const { line, issues } of judged) {
      if (issues.length === 0) validLines.add(line);
      else if (invalidLines.length < MAX_INVALID_LINES_KEPT) invalidLines.push({ line, issues });
    }
    judged = [];
  };
  for await (const entry of readCampaignFile(file, format)) {
    total += 1;
    if ('problem' in entry) {
      judged.push({
        line: entry.line,
        issues: [{ field: '(line)', reason: entry.problem }],
        cardId: undefined,
        ownWorkflowId: undefined,
      });
    } else {
      const record = withIssuer(entry.record, issuerId);
      const requestId = idOf(record, 'issuerRequestId');
      judged.push({
        line: entry.line,
        issues: lineIssues(record, entry.line),
        cardId: idOf(record, 'cardId'),
        ownWorkflowId: requestId === undefined ? undefined : cardOrderWorkflowId(issuerId, requestId),
      });
    }
    if (judged.length >= OPEN_ORDER_LOOKUP_SIZE) await settle();
  }
  await settle();
  const invalid = total - validLines.size;
  if (validLines.size === 0) {
    throw new CampaignFileError(invalid, invalidLines, total === 0 ? 'The campaign file holds no card' : undefined);
  }
  if (invalid > 0 && !options.skipInvalid) throw new CampaignFileError(invalid, invalidLines);
  if (existing && existing.valid !== validLines.size) {
    // The pages stored so far were cut from other valid lines (the catalog changed): going on would skip or repeat.
    throw new CampaignFileError(
      invalid,
      invalidLines,
      `The file checks differently than when campaign ${campaignId} began storing it (the program catalog changed?); start it under a new id`,
    );
  }

  const manifest: CampaignManifest = {
    issuerId,
    campaignId,
    fileDigest: digest,
    format,
    pageSize,
    total,
    valid: validLines.size,
    invalid,
    invalidLines,
    pages: 0,
    complete: false,
  };
  // Conditional writes: a second ingestion of the id racing this one (another machine) never loses progress, and
  // one of another file is refused before it stores a page.
  const save = () =>
    updateManifest(store, issuerId, campaignId, (current) => {
      if (current && current.fileDigest !== digest) throw new CampaignConflictError(campaignId);
      return {
        ...manifest,
        pages: Math.max(current?.pages ?? 0, manifest.pages),
        complete: manifest.complete || (current?.complete ?? false),
      };
    });
  await save();

  // Pass 2: encrypt and store the valid cards, page by page; pages a cut-off start wrote stay as they are.
  let page: { line: number; record: unknown }[] = [];
  let index = 0;
  const flush = async () => {
    if (!(await store.hasPage(issuerId, campaignId, index))) {
      const ready: CampaignCard[] = await Promise.all(
        page.map(async ({ line, record }) => ({ line, ...(await cards.prepare(record)) })),
      );
      await store.writePage(issuerId, campaignId, index, ready);
    }
    index += 1;
    page = [];
    manifest.pages = index;
    // Saved before the call, not in its argument: `onPage?.(...)` skips its argument when there is no onPage.
    const saved = await save();
    options.onPage?.(saved);
  };
  for await (const entry of readCampaignFile(file, format)) {
    if (!validLines.has(entry.line) || 'problem' in entry) continue;
    page.push({ line: entry.line, record: withIssuer(entry.record, issuerId) });
    if (page.length >= pageSize) await flush();
  }
  if (page.length > 0) await flush();
  manifest.complete = true;
  return save();

  function lineIssues(record: unknown, line: number): Issue[] {
    const issues = [...cards.issues(record)];
    const recordIssuer = (record as { issuerId?: unknown } | null)?.issuerId;
    if (recordIssuer !== undefined && recordIssuer !== issuerId) {
      issues.push({ field: 'issuerId', reason: `is not the campaign's issuer (${issuerId})` });
    }
    // A cardId twice (under another issuerRequestId) would order two physical cards of one card: refused like an
    // issuerRequestId twice. A line repeated whole is named once, by its issuerRequestId.
    const repeated = (field: 'issuerRequestId' | 'cardId', seen: Map<string, number>): boolean => {
      const id = idOf(record, field);
      if (id === undefined) return false;
      const first = seen.get(id);
      if (first === undefined) seen.set(id, line);
      else issues.push({ field, reason: `is used again (first on line ${first})` });
      return first !== undefined;
    };
    if (!repeated('issuerRequestId', firstRequest)) repeated('cardId', firstCard);
    return issues;
  }

  /** Adds an issue to each line whose card already has an open order other than the line's own. */
  async function findOpenOrders(lines: JudgedLine[]): Promise<void> {
    const cardIds = [...new Set(lines.flatMap((l) => (l.cardId === undefined ? [] : [l.cardId])))];
    if (!options.openOrders || cardIds.length === 0) return;
    const byCard = new Map<string, OpenCardOrder[]>();
    for (const order of await options.openOrders(cardIds)) {
      byCard.set(order.cardId, [...(byCard.get(order.cardId) ?? []), order]);
    }
    for (const l of lines) {
      if (l.cardId === undefined) continue;
      // The line's own order (same issuerRequestId) is not another order: the page submission judges it.
      const other = byCard.get(l.cardId)?.find((o) => o.workflowId !== l.ownWorkflowId);
      if (!other) continue;
      l.issues.push({
        field: 'cardId',
        reason:
          `${l.cardId} already has an open order of ours: workflow ${other.workflowId}, ` +
          `issuerRequestId ${other.issuerRequestId}`,
      });
    }
  }
}
