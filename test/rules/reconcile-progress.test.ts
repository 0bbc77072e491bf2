import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReconcileDisagreement } from '../../rules/contracts/reconcile.js';
import {
  addPage,
  detailsMarkdown,
  emptyCounts,
  MAX_KEPT_DISAGREEMENTS,
  newProgress,
} from '../../rules/reconcile/reconcile-progress.js';

function disagreement(n: number): ReconcileDisagreement {
  return {
    workflowId: `card-order:ISSUER0001:req-${n}`,
    issuerRequestId: `req-${n}`,
    cardId: `crd_${n}`,
    operationId: `op-${n}`,
    orderStatus: 'SUBMITTED',
    orderStage: undefined,
    d1Stage: 'CARD_SHIPPED',
    d1Status: 'SUCCESSFUL',
    updated: true,
    detectedAt: '2026-11-27T02:00:00.000Z',
  };
}

describe('reconciliation progress', () => {
  it('sums the pages, moves to the next page token, and keeps the latest 100 disagreements', () => {
    const progress = newProgress('2026-11-27T02:00:00.000Z');
    const all = Array.from({ length: 150 }, (_, i) => disagreement(i));
    addPage(
      progress,
      {
        counts: { ...emptyCounts(), checked: 190, updated: 90, disagreements: 90, skipped: 10 },
        disagreements: all.slice(0, 90),
      },
      'dG9rZW4=',
    );
    addPage(
      progress,
      {
        counts: { ...emptyCounts(), checked: 70, updated: 55, disagreements: 60, unknownAtD1: 5, failed: 2 },
        disagreements: all.slice(90),
      },
      undefined,
    );
    assert.deepEqual(progress.counts, {
      checked: 260,
      updated: 145,
      disagreements: 150,
      unknownAtD1: 5,
      failed: 2,
      skipped: 10,
    });
    assert.equal(progress.pages, 2);
    assert.equal(progress.pageToken, undefined);
    assert.equal(progress.latestDisagreements.length, MAX_KEPT_DISAGREEMENTS);
    assert.deepEqual(progress.latestDisagreements, all.slice(50));
  });

  it('shows Web UI the counts and a table of the disagreeing orders, newest first, ids and stages only', () => {
    const progress = newProgress('2026-11-27T02:00:00.000Z');
    addPage(
      progress,
      {
        counts: { ...emptyCounts(), checked: 2, updated: 1, disagreements: 2, unknownAtD1: 1 },
        disagreements: [
          disagreement(1),
          { ...disagreement(2), d1Stage: 'UNKNOWN_AT_D1', d1Status: undefined, updated: false },
        ],
      },
      undefined,
    );
    const markdown = detailsMarkdown(progress, 'done');
    assert.match(markdown, /^\*\*Reconciliation with D1 done\*\*: 1 page\(s\)/);
    assert.match(markdown, /\| 2 \| 1 \| 2 \| 1 \| 0 \| 0 \|/);
    const rows = markdown.split('\n').filter((line) => line.startsWith('| card-order:'));
    assert.deepEqual(rows, [
      '| card-order:ISSUER0001:req-2 | SUBMITTED | – | UNKNOWN_AT_D1 | – | no |',
      '| card-order:ISSUER0001:req-1 | SUBMITTED | – | CARD_SHIPPED | SUCCESSFUL | yes |',
    ]);
    assert.doesNotMatch(markdown, /crd_/);
  });

  it('says how many disagreements the table leaves out', () => {
    const progress = newProgress('2026-11-27T02:00:00.000Z');
    const page = Array.from({ length: 120 }, (_, i) => disagreement(i));
    addPage(
      progress,
      { counts: { ...emptyCounts(), checked: 120, updated: 120, disagreements: 120 }, disagreements: page },
      undefined,
    );
    assert.match(detailsMarkdown(progress, 'running'), /the latest 100 of 120/);
  });
});
