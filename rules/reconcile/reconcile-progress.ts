/**
 * The reconciliation's running totals and how Web UI shows them (its current details, markdown). Pure and
 * deterministic: the workflow replays it, tests call it directly.
 *
 * @module
 */
import type { ReconcileCounts, ReconcileDisagreement, ReconcileProgress } from '../contracts/reconcile.js';

/** The latest disagreements kept in the workflow's state, result and details; every one is counted. */
export const MAX_KEPT_DISAGREEMENTS = 100;

/** Pages one run walks before it continues as new (about a dozen history events a page). */
export const PAGES_PER_RUN = 50;

const countNames = ['checked', 'updated', 'disagreements', 'unknownAtD1', 'failed', 'skipped'] as const;

export function emptyCounts(): ReconcileCounts {
  return { checked: 0, updated: 0, disagreements: 0, unknownAtD1: 0, failed: 0, skipped: 0 };
}

export function newProgress(startedAt: string): ReconcileProgress {
  return {
    startedAt,
    pages: 0,
    pageToken: undefined,
    counts: emptyCounts(),
    latestDisagreements: [],
    undeliveredEvents: 0,
  };
}

/** Adds one page's outcome to the totals and moves on to the next page (none after the last). */
export function addPage(
  progress: ReconcileProgress,
  page: { counts: ReconcileCounts; disagreements: readonly ReconcileDisagreement[] },
  nextPageToken: string | undefined,
): void {
  for (const name of countNames) progress.counts[name] += page.counts[name];
  const kept = progress.latestDisagreements;
  kept.push(...page.disagreements);
  if (kept.length > MAX_KEPT_DISAGREEMENTS) kept.splice(0, kept.length - MAX_KEPT_DISAGREEMENTS);
  progress.pages += 1;
  progress.pageToken = nextPageToken;
}

/** A table cell: ids and stages never hold these, but a pipe or line break must not break the table. */
function cell(value: string | undefined): string {
  return value === undefined || value === '' ? '–' : value.replace(/[|\r\n]/g, ' ');
}

/**
 * The reconciliation's current details in Web UI: where it stands, its counts, and a table of the latest orders
 * whose D1 state disagreed, newest first, by workflow id.
 */
export function detailsMarkdown(progress: ReconcileProgress, state: 'running' | 'done'): string {
  const { counts } = progress;
  const lines = [
    state === 'done'
      ? `**Reconciliation with D1 done**: ${progress.pages} page(s) of open orders since ${progress.startedAt}`
      : `**Reconciliation with D1 running**: ${progress.pages} page(s) of open orders done since ${progress.startedAt}`,
    '',
    '| checked | updated | disagreements | unknown at D1 | failed | skipped (not at D1) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${counts.checked} | ${counts.updated} | ${counts.disagreements} | ${counts.unknownAtD1} | ${counts.failed} | ${counts.skipped} |`,
  ];
  if (progress.undeliveredEvents > 0) {
    lines.push('', `${progress.undeliveredEvents} disagreement event(s) could not be delivered to the issuer.`);
  }
  const shown = [...progress.latestDisagreements].reverse();
  if (shown.length > 0) {
    lines.push(
      '',
      counts.disagreements > shown.length
        ? `Orders whose D1 state disagreed (the latest ${shown.length} of ${counts.disagreements}):`
        : 'Orders whose D1 state disagreed:',
      '',
      '| order (workflow id) | order status | order stage | D1 stage | D1 status | passed to the order |',
      '| --- | --- | --- | --- | --- | --- |',
      ...shown.map(
        (d) =>
          `| ${cell(d.workflowId)} | ${cell(d.orderStatus)} | ${cell(d.orderStage)} | ${cell(d.d1Stage)} | ` +
          `${cell(d.d1Status)} | ${d.updated ? 'yes' : 'no'} |`,
      ),
    );
  }
  return lines.join('\n');
}
