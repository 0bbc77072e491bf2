/**
 * FROZEN with `campaign-v1.ts`: the decisions of campaigns started before `campaign-records`.
 *
 * A bulk campaign's decisions, as a pure state machine: when to submit the next page of cards, when to wait for
 * cards in flight to drain, when to look again, and when the campaign is over. The cards themselves are card-order
 * workflows of their own; the campaign only learns how many of them are in flight or open, from visibility counts
 * its activity reads, so no per-card data ever enters its history.
 *
 * @module
 */
import type {
  CampaignCounters,
  CampaignIngestion,
  CampaignStateName,
  CampaignTimings,
  CampaignView,
} from '../contracts/campaign.js';

export interface CampaignMachineState {
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
  counters: CampaignCounters;
  /** Card orders the submitted pages have: a reading that counts fewer has not caught up with them yet. */
  started: number;
  /** The last visibility reading, and after which page it was taken: a newer page makes it stale. */
  reading: (CampaignReading & { at: number; afterPage: number }) | undefined;
  /** Readings since the counts last changed: the wait before the next one doubles with each. */
  quietReadings: number;
  cancel: { requested: boolean; pull: boolean; pulled: boolean };
}

export type CampaignStep =
  | { kind: 'submitPage'; page: number }
  | { kind: 'count' }
  | { kind: 'pull' }
  | { kind: 'wait'; until: number | undefined }
  | { kind: 'finish' };

export function newCampaignMachine(
  ids: { issuerId: string; campaignId: string; fileDigest: string },
  ingestion: CampaignIngestion,
  timings: CampaignTimings,
  now: number,
): CampaignMachineState {
  return {
    ...ids,
    state: 'RUNNING',
    timings,
    startedAt: now,
    endedAt: undefined,
    ingestion,
    nextPage: 0,
    counters: { accepted: 0, refused: 0, conflicts: 0 },
    started: 0,
    reading: undefined,
    quietReadings: 0,
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

/** What visibility says of the campaign's card orders: all of them, the running ones, and those not yet shipped. */
export interface CampaignReading {
  total: number;
  open: number;
  inFlight: number;
}

export function onPageSubmitted(
  m: CampaignMachineState,
  page: number,
  result: { started: number; accepted: number; refused: number; conflicts: number },
): void {
  if (page !== m.nextPage) return;
  m.nextPage += 1;
  m.started += result.started;
  m.counters.accepted += result.accepted;
  m.counters.refused += result.refused;
  m.counters.conflicts += result.conflicts;
}

export function onCounted(m: CampaignMachineState, counts: CampaignReading, now: number): void {
  const same = m.reading?.inFlight === counts.inFlight && m.reading.open === counts.open;
  m.quietReadings = same ? m.quietReadings + 1 : 0;
  m.reading = { ...counts, at: now, afterPage: m.nextPage };
}

export function onPulled(m: CampaignMachineState): void {
  m.cancel.pulled = true;
}

/** When the next visibility reading is due: soon after a change, backing off to the cap while nothing moves. */
function nextReadingAt(m: CampaignMachineState): number {
  const { checkIntervalMs, checkMaxIntervalMs } = m.timings;
  const at = m.reading?.at ?? m.startedAt;
  return at + Math.min(checkIntervalMs * 2 ** Math.min(m.quietReadings, 30), checkMaxIntervalMs);
}

/** The one thing to do next at `now`. */
export function decideCampaign(m: CampaignMachineState, now: number): CampaignStep {
  if (ended(m)) return { kind: 'finish' };
  if (m.cancel.requested) {
    if (m.cancel.pull && !m.cancel.pulled) return { kind: 'pull' };
    m.state = 'CANCELLED';
    m.endedAt = now;
    return { kind: 'finish' };
  }
  const ingestion = m.ingestion;
  if (m.state === 'PAUSED') return { kind: 'wait', until: undefined };
  const reading = m.reading;
  if (reading === undefined || reading.afterPage !== m.nextPage) return { kind: 'count' };
  // Visibility lags: until it counts every card order the pages started, its figures are too low to act on.
  if (reading.total < m.started) {
    const at = reading.at + m.timings.checkIntervalMs;
    return now >= at ? { kind: 'count' } : { kind: 'wait', until: at };
  }
  if (m.nextPage < ingestion.pages) {
    // Bound the cards in flight: a page goes when it fits under the bound, or when nothing is in flight at all.
    const room = reading.inFlight + m.timings.pageSize <= m.timings.maxInFlight || reading.inFlight === 0;
    if (room) return { kind: 'submitPage', page: m.nextPage };
  } else if (reading.inFlight === 0) {
    // Every card shipped or ended: the campaign's work is done. Shipped cards keep their own delivery window.
    m.state = 'COMPLETED';
    m.endedAt = now;
    return { kind: 'finish' };
  }
  const at = nextReadingAt(m);
  if (now >= at) return { kind: 'count' };
  return { kind: 'wait', until: at };
}

/** The campaign as its query, result and Web UI show it: ids and counts, no card data. */
export function campaignView(m: CampaignMachineState): CampaignView {
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
    inFlight: m.reading?.inFlight,
    open: m.reading?.open,
    startedAt: new Date(m.startedAt).toISOString(),
    endedAt: m.endedAt === undefined ? undefined : new Date(m.endedAt).toISOString(),
  };
}

/** The live "current details" line of Web UI (markdown). */
export function describeCampaign(m: CampaignMachineState): string {
  const v = campaignView(m);
  const pages = `page ${v.pagesSubmitted}/${v.pages} submitted`;
  const flight = v.inFlight === undefined ? '' : `, ${v.inFlight} in flight, ${v.open} open`;
  return `**${v.state}**: ${pages}; ${v.accepted} cards taken by D1, ${v.refused} refused, ${v.conflicts} conflicts${flight}`;
}
