/**
 * A bulk campaign's decisions, as a pure state machine: when to submit the next page of cards, when to wait for the
 * cards in flight to drain, when to try a failed page again, and when the campaign is over.
 *
 * Its progress comes from its own records: what each page started (the page activity's result) and what each card
 * reported when it settled (`campaignCardSettled`: shipped, returned or ended), counted once per card by its place
 * in the file. Visibility only ever lowers the in-flight figure, from a reading taken well after the last page: a
 * card terminated by an operator never reports, and a reading lets the campaign end anyway. Cards that belong to
 * another order (ALREADY_ORDERED) or conflict were never started here and count as done; closed cards removed by
 * retention changed nothing, since nothing here counts them.
 *
 * @module
 */
import type { CampaignCardReport, CardOrderStatus } from '../contracts/card-order.js';
import type {
  CampaignCounters,
  CampaignIngestion,
  CampaignStateName,
  CampaignTimings,
  CampaignView,
} from '../contracts/campaign.js';

/** The version of the state: campaigns before it ran `legacy/campaign-v1.ts`. */
export const CAMPAIGN_RECORDS_BEHAVIOUR = 2;

export interface CampaignMachineState {
  behaviour: typeof CAMPAIGN_RECORDS_BEHAVIOUR;
  issuerId: string;
  campaignId: string;
  fileDigest: string;
  state: CampaignStateName;
  timings: CampaignTimings;
  startedAt: number;
  endedAt: number | undefined;
  /** What ingestion stored: the campaign starts once every page is. */
  ingestion: CampaignIngestion;
  /** The next page to submit (0-based). */
  nextPage: number;
  lastPageAt: number | undefined;
  counters: Required<CampaignCounters>;
  /** Card orders the submitted pages started for this campaign: each reports once, when it settles. */
  started: number;
  /** One bit per card, by its place (page * pageSize + slot): set once the card reported. */
  settledBits: number[];
  /** Reports of cards on submitted pages (a card of a page still being retried reports too: counted once it is). */
  settledOnSubmittedPages: number;
  settled: Partial<Record<CardOrderStatus, number>>;
  /** The page whose attempts failed (transient), how often in a row, and when it goes again. */
  pageFailure: { page: number; failures: number; code: string | undefined; retryAt: number } | undefined;
  /** The last visibility reading of in-flight cards, and after which page it was taken. */
  reading: { inFlight: number; at: number; afterPage: number } | undefined;
  /** Readings in a row that found the same figure: the wait before the next one doubles with each. */
  quietReadings: number;
  /**
   * Whether pages wait for the cards' task backlog to fall under `timings.maxCardBacklog` (campaigns started since
   * pages were paced; absent in the state of those before).
   */
  pacedByBacklog?: boolean | undefined;
  /** The last reading of the cards' task backlog (undefined count: the server reports none), and after which page. */
  backlog?: { count: number | undefined; at: number; afterPage: number } | undefined;
  cancel: { requested: boolean; pull: boolean; pulled: boolean };
}

export type CampaignStep =
  | { kind: 'submitPage'; page: number }
  | { kind: 'count' }
  /** Reads how many card-order tasks wait for a worker, before the next page goes. */
  | { kind: 'readBacklog' }
  /** Asks the cards of pages `[0, pages)` that D1 may still cancel to cancel. */
  | { kind: 'pull'; pages: number }
  | { kind: 'wait'; until: number | undefined }
  | { kind: 'finish' };

export function newCampaignMachine(
  ids: { issuerId: string; campaignId: string; fileDigest: string },
  ingestion: CampaignIngestion,
  timings: CampaignTimings,
  now: number,
  pacedByBacklog = false,
): CampaignMachineState {
  return {
    behaviour: CAMPAIGN_RECORDS_BEHAVIOUR,
    ...ids,
    state: 'RUNNING',
    timings,
    startedAt: now,
    endedAt: undefined,
    ingestion,
    nextPage: 0,
    lastPageAt: undefined,
    counters: { accepted: 0, refused: 0, conflicts: 0, alreadyOrdered: 0 },
    started: 0,
    settledBits: [],
    settledOnSubmittedPages: 0,
    settled: {},
    pageFailure: undefined,
    reading: undefined,
    quietReadings: 0,
    pacedByBacklog: pacedByBacklog && timings.maxCardBacklog !== undefined,
    backlog: undefined,
    cancel: { requested: false, pull: false, pulled: false },
  };
}

const ended = (m: CampaignMachineState) => ['COMPLETED', 'CANCELLED', 'FAILED'].includes(m.state);

/** Why a pause, resume or cancel cannot be done, or undefined. Pause and resume are idempotent. */
export function controlRefusal(m: CampaignMachineState): string | undefined {
  if (ended(m)) return `CAMPAIGN_ALREADY_${m.state}`;
  if (m.cancel.requested) return 'CAMPAIGN_CANCELLING';
  return undefined;
}

export function onPause(m: CampaignMachineState): void {
  if (m.state === 'RUNNING') m.state = 'PAUSED';
}

export function onResume(m: CampaignMachineState): void {
  if (m.state === 'PAUSED') m.state = 'RUNNING';
}

/** Stops submitting; with `pull`, the cards not yet shipped are asked to cancel at D1 first. */
export function onCancel(m: CampaignMachineState, pull: boolean): void {
  m.cancel.requested = true;
  m.cancel.pull ||= pull;
}

/** What one page did: card orders it started for this campaign, and how its cards went. */
export interface PageOutcome {
  started: number;
  accepted: number;
  refused: number;
  conflicts: number;
  alreadyOrdered: number;
}

const bitsPerWord = 32;

function slotsOf(m: CampaignMachineState, page: number): { from: number; to: number } {
  const from = page * m.timings.pageSize;
  return { from, to: from + m.timings.pageSize };
}

function isSet(bits: readonly number[], index: number): boolean {
  return (((bits[Math.floor(index / bitsPerWord)] ?? 0) >>> (index % bitsPerWord)) & 1) === 1;
}

export function onPageSubmitted(m: CampaignMachineState, page: number, outcome: PageOutcome, now: number): void {
  if (page !== m.nextPage) return;
  m.nextPage += 1;
  m.lastPageAt = now;
  m.pageFailure = undefined;
  m.started += outcome.started;
  m.counters.accepted += outcome.accepted;
  m.counters.refused += outcome.refused;
  m.counters.conflicts += outcome.conflicts;
  m.counters.alreadyOrdered += outcome.alreadyOrdered;
  // Cards of this page that settled while the page was still being retried count now.
  const { from, to } = slotsOf(m, page);
  for (let index = from; index < to; index += 1) if (isSet(m.settledBits, index)) m.settledOnSubmittedPages += 1;
}

/** A page's attempts failed for now: it goes again after a wait that doubles with each failure in a row. */
export function onPageFailed(m: CampaignMachineState, page: number, code: string | undefined, now: number): void {
  const failures = m.pageFailure?.page === page ? m.pageFailure.failures + 1 : 1;
  const { checkIntervalMs, checkMaxIntervalMs } = m.timings;
  const wait = Math.min(checkIntervalMs * 2 ** Math.min(failures - 1, 30), checkMaxIntervalMs);
  m.pageFailure = { page, failures, code, retryAt: now + wait };
}

/**
 * A card settled. Counted once per card whatever repeats it (a resent signal, a card that continued as new); a
 * report naming no card of the campaign is ignored. Returns whether it counted.
 */
export function onCardSettled(m: CampaignMachineState, report: CampaignCardReport): boolean {
  const { page, slot, status } = report;
  const valid =
    Number.isInteger(page) &&
    Number.isInteger(slot) &&
    page >= 0 &&
    page < m.ingestion.pages &&
    slot >= 0 &&
    slot < m.timings.pageSize;
  if (!valid) return false;
  const index = page * m.timings.pageSize + slot;
  if (isSet(m.settledBits, index)) return false;
  const word = Math.floor(index / bitsPerWord);
  while (m.settledBits.length <= word) m.settledBits.push(0);
  m.settledBits[word] = ((m.settledBits[word] ?? 0) | (1 << (index % bitsPerWord))) >>> 0;
  m.settled[status] = (m.settled[status] ?? 0) + 1;
  if (page < m.nextPage) m.settledOnSubmittedPages += 1;
  return true;
}

/** A visibility reading of the campaign's card orders that are open and not yet shipped. */
export function onCounted(m: CampaignMachineState, inFlight: number, now: number): void {
  m.quietReadings = m.reading?.inFlight === inFlight ? m.quietReadings + 1 : 0;
  m.reading = { inFlight, at: now, afterPage: m.nextPage };
}

/** A reading of the card-order tasks waiting for a worker (undefined: the server reports none). */
export function onBacklogRead(m: CampaignMachineState, count: number | undefined, now: number): void {
  m.backlog = { count, at: now, afterPage: m.nextPage };
}

/**
 * How long after a page its cards show in the server's backlog: the server answers task queue statistics from a
 * cache of a few seconds (5 s by default), so a reading taken sooner may predate the page's cards.
 */
export const BACKLOG_SETTLE_MS = 6_000;

/**
 * Whether the workers' backlog lets the next page go: `go`, `read` (no reading since the last page settled, or one
 * older than a check interval), or the time to look again (a page settling, a reading that held it back going stale).
 */
function backlogAllows(m: CampaignMachineState, now: number): 'go' | 'read' | number {
  const max = m.timings.maxCardBacklog;
  if (!m.pacedByBacklog || max === undefined) return 'go';
  const settledAt = m.lastPageAt === undefined ? now : m.lastPageAt + BACKLOG_SETTLE_MS;
  if (now < settledAt) return settledAt;
  const b = m.backlog;
  const staleAt = (b?.at ?? 0) + Math.max(m.timings.checkIntervalMs, BACKLOG_SETTLE_MS);
  if (!b || b.afterPage !== m.nextPage || b.at < settledAt || now >= staleAt) return 'read';
  return b.count === undefined || b.count <= max ? 'go' : staleAt;
}

/** The backlog holding the next page back, if it is. */
function heldByBacklog(m: CampaignMachineState): number | undefined {
  const b = m.backlog;
  const max = m.timings.maxCardBacklog;
  if (!m.pacedByBacklog || !b || max === undefined || b.afterPage !== m.nextPage) return undefined;
  return b.count !== undefined && b.count > max ? b.count : undefined;
}

export function onPulled(m: CampaignMachineState): void {
  m.cancel.pulled = true;
}

/**
 * Cards started and not yet settled. The records can only be too high (a card that never reported: terminated, or
 * settled on a worker from before the reports); a reading taken a check interval after the last page, when
 * visibility has caught up with it, can lower it, never raise it.
 */
export function cardsInFlight(m: CampaignMachineState): number {
  const byRecords = Math.max(m.started - m.settledOnSubmittedPages, 0);
  const r = m.reading;
  const caughtUp =
    r !== undefined && r.afterPage === m.nextPage && r.at >= (m.lastPageAt ?? 0) + m.timings.checkIntervalMs;
  return caughtUp ? Math.min(byRecords, r.inFlight) : byRecords;
}

/** When the next visibility reading is due: a check interval after the last page, backing off while nothing moves. */
function nextReadingAt(m: CampaignMachineState): number {
  const { checkIntervalMs, checkMaxIntervalMs } = m.timings;
  const after = m.reading?.afterPage === m.nextPage ? m.reading.at : (m.lastPageAt ?? m.startedAt);
  return after + Math.min(checkIntervalMs * 2 ** Math.min(m.quietReadings, 30), checkMaxIntervalMs);
}

/** The one thing to do next at `now`. */
export function decideCampaign(m: CampaignMachineState, now: number): CampaignStep {
  if (ended(m)) return { kind: 'finish' };
  if (m.cancel.requested) {
    // A page that failed part-way may have started some of its cards: they are pulled too.
    const pages = Math.min(m.nextPage + (m.pageFailure ? 1 : 0), m.ingestion.pages);
    if (m.cancel.pull && !m.cancel.pulled && pages > 0) return { kind: 'pull', pages };
    m.state = 'CANCELLED';
    m.endedAt = now;
    return { kind: 'finish' };
  }
  if (m.state === 'PAUSED') return { kind: 'wait', until: undefined };
  const inFlight = cardsInFlight(m);
  let until: number | undefined;
  if (m.nextPage < m.ingestion.pages) {
    const retryAt = m.pageFailure?.retryAt ?? now;
    // Bound the cards in flight: a page goes when it fits under the bound, or when nothing is in flight at all.
    const room = inFlight + m.timings.pageSize <= m.timings.maxInFlight || inFlight === 0;
    if (room && now >= retryAt) {
      // The workers keep up with the cards already started: no page piles thousands more onto their queue.
      const backlog = backlogAllows(m, now);
      if (backlog === 'go') return { kind: 'submitPage', page: m.nextPage };
      if (backlog === 'read') return { kind: 'readBacklog' };
      until = backlog;
    } else if (room) until = retryAt;
  } else if (inFlight === 0) {
    // Every card shipped or ended: the campaign's work is done. Shipped cards keep their own delivery window.
    m.state = 'COMPLETED';
    m.endedAt = now;
    return { kind: 'finish' };
  }
  if (inFlight > 0) {
    const readingAt = nextReadingAt(m);
    if (now >= readingAt) return { kind: 'count' };
    until = until === undefined ? readingAt : Math.min(until, readingAt);
  }
  return { kind: 'wait', until };
}

/** The campaign as its query, result and Web UI show it: ids and counts, no card data. */
export function campaignView(m: CampaignMachineState): CampaignView {
  const failure = m.pageFailure;
  return {
    issuerId: m.issuerId,
    campaignId: m.campaignId,
    state: m.state,
    fileDigest: m.fileDigest,
    total: m.ingestion.total,
    valid: m.ingestion.valid,
    invalid: m.ingestion.invalid,
    pages: m.ingestion.pages,
    pagesSubmitted: m.nextPage,
    ...m.counters,
    started: m.started,
    inFlight: cardsInFlight(m),
    open: undefined,
    settled: { ...m.settled },
    pageFailure: failure && { ...failure, retryAt: new Date(failure.retryAt).toISOString() },
    heldByBacklog: m.state === 'RUNNING' ? heldByBacklog(m) : undefined,
    startedAt: new Date(m.startedAt).toISOString(),
    endedAt: m.endedAt === undefined ? undefined : new Date(m.endedAt).toISOString(),
  };
}

/** The live "current details" line of Web UI (markdown), refreshed as pages go and cards report. */
export function describeCampaign(m: CampaignMachineState): string {
  const v = campaignView(m);
  const settled = Object.values(m.settled).reduce((sum, n) => sum + n, 0);
  const failure = m.pageFailure ? `; page ${m.pageFailure.page} failed ${m.pageFailure.failures}x, goes again` : '';
  const held =
    v.heldByBacklog === undefined ? '' : `; next page waits for the workers (${v.heldByBacklog} card tasks queued)`;
  return (
    `**${v.state}**: page ${v.pagesSubmitted}/${v.pages} submitted; ${m.started} started, ${settled} settled, ` +
    `${v.inFlight ?? 0} in flight; ${m.counters.refused} refused, ${m.counters.conflicts} conflicts, ` +
    `${m.counters.alreadyOrdered} already ordered${failure}${held}`
  );
}
