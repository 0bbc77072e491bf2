import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  controlRefusal,
  decideCampaign,
  newCampaignMachine,
  onCancel,
  onCounted,
  onPageSubmitted,
  onPause,
  onPulled,
  onResume,
  type CampaignMachineState,
} from '../../rules/legacy/campaign-machine-v1.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const timings = {
  pageSize: 1000,
  maxInFlight: 2500,
  checkIntervalMs: MINUTE,
  checkMaxIntervalMs: 6 * HOUR,
  cardSubmitTimeoutMs: HOUR,
  pageHeartbeatTimeoutMs: MINUTE,
};

function campaign(pages = 4): CampaignMachineState {
  return newCampaignMachine(
    { issuerId: 'ISSUER0001', campaignId: 'renewals-2026-12', fileDigest: 'abc' },
    { pages, total: pages * 1000, valid: pages * 1000, invalid: 0 },
    timings,
    T0,
  );
}

const page = { started: 1000, accepted: 1000, refused: 0, conflicts: 0 };

describe('campaign machine', () => {
  it('reads its cards before each page and submits while the cards in flight leave room for a page', () => {
    const m = campaign();
    assert.deepEqual(decideCampaign(m, T0), { kind: 'count' });
    onCounted(m, { inFlight: 0, open: 0, total: m.started }, T0);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'submitPage', page: 0 });
    onPageSubmitted(m, 0, page);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'count' }, 'the reading is stale after a page');
    onCounted(m, { inFlight: 1000, open: 1000, total: m.started }, T0 + 1);
    assert.deepEqual(decideCampaign(m, T0 + 1), { kind: 'submitPage', page: 1 });
    onPageSubmitted(m, 1, page);
    onCounted(m, { inFlight: 2000, open: 2000, total: m.started }, T0 + 2);
    // 2000 in flight + 1000 would pass 2500: wait for cards to ship.
    assert.deepEqual(decideCampaign(m, T0 + 2), { kind: 'wait', until: T0 + 2 + MINUTE });
    assert.deepEqual(decideCampaign(m, T0 + 2 + MINUTE), { kind: 'count' });
    onCounted(m, { inFlight: 1200, open: 2000, total: m.started }, T0 + 2 + MINUTE);
    assert.deepEqual(decideCampaign(m, T0 + 2 + MINUTE), { kind: 'submitPage', page: 2 });
  });

  it('backs off its readings while nothing moves, up to the cap, and completes once no card is in flight', () => {
    const m = campaign(1);
    onCounted(m, { inFlight: 0, open: 0, total: m.started }, T0);
    onPageSubmitted(m, 0, page);
    let at = T0;
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      onCounted(m, { inFlight: 1000, open: 1000, total: m.started }, at);
      const step = decideCampaign(m, at);
      assert.equal(step.kind, 'wait');
      const until = (step as { until: number }).until;
      waits.push(until - at);
      at = until;
    }
    assert.equal(waits[0], MINUTE);
    assert.ok(
      waits.every((w, i) => i === 0 || w >= (waits[i - 1] ?? 0)),
      'never sooner',
    );
    assert.equal(waits.at(-1), 6 * HOUR, 'capped: a week of production costs a few dozen readings');
    // Every card shipped, each still listening for its carrier: the campaign is done.
    onCounted(m, { inFlight: 0, open: 1000, total: m.started }, at);
    assert.deepEqual(decideCampaign(m, at), { kind: 'finish' });
    assert.equal(m.state, 'COMPLETED');
  });

  it('does not act on a reading that has not caught up with the card orders its pages started', () => {
    const m = campaign(1);
    onCounted(m, { inFlight: 0, open: 0, total: 0 }, T0);
    onPageSubmitted(m, 0, page);
    // Visibility does not list the page's 1000 orders yet: 0 open is not "all done".
    onCounted(m, { inFlight: 0, open: 0, total: 0 }, T0 + 1);
    assert.deepEqual(decideCampaign(m, T0 + 1), { kind: 'wait', until: T0 + 1 + MINUTE });
    assert.equal(m.state, 'RUNNING');
    onCounted(m, { inFlight: 0, open: 0, total: 1000 }, T0 + MINUTE + 1);
    assert.deepEqual(decideCampaign(m, T0 + MINUTE + 1), { kind: 'finish' });
  });

  it('still submits when the in-flight bound is below a page, one page at a time', () => {
    const m = newCampaignMachine(
      { issuerId: 'ISSUER0001', campaignId: 'small', fileDigest: 'abc' },
      { pages: 2, total: 2000, valid: 2000, invalid: 0 },
      { ...timings, maxInFlight: 500 },
      T0,
    );
    onCounted(m, { inFlight: 0, open: 0, total: 0 }, T0);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'submitPage', page: 0 });
    onPageSubmitted(m, 0, page);
    onCounted(m, { inFlight: 400, open: 400, total: 1000 }, T0 + 1);
    assert.equal(decideCampaign(m, T0 + 1).kind, 'wait');
  });

  it('stops submitting while paused and goes on from the same page on resume', () => {
    const m = campaign();
    onCounted(m, { inFlight: 0, open: 0, total: m.started }, T0);
    onPause(m);
    assert.equal(m.state, 'PAUSED');
    assert.deepEqual(decideCampaign(m, T0), { kind: 'wait', until: undefined });
    // A late result for another page than the next changes nothing.
    onPageSubmitted(m, 3, page);
    assert.equal(m.nextPage, 0);
    onResume(m);
    assert.deepEqual(decideCampaign(m, T0 + 1), { kind: 'submitPage', page: 0 });
  });

  it('cancels: pulls the cards not yet shipped when asked, then ends; refuses controls once ended', () => {
    const m = campaign();
    onCancel(m, true);
    assert.equal(controlRefusal(m), 'CAMPAIGN_CANCELLING');
    assert.deepEqual(decideCampaign(m, T0), { kind: 'pull' });
    onPulled(m);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'finish' });
    assert.equal(m.state, 'CANCELLED');
    assert.equal(controlRefusal(m), 'CAMPAIGN_ALREADY_CANCELLED');
    const plain = campaign();
    onCancel(plain, false);
    assert.deepEqual(decideCampaign(plain, T0), { kind: 'finish' }, 'without pull: just stop');
  });

  it('keeps every decision when its state goes through JSON (continue-as-new)', () => {
    const m = campaign();
    onCounted(m, { inFlight: 0, open: 0, total: m.started }, T0);
    onPageSubmitted(m, 0, page);
    onCounted(m, { inFlight: 2000, open: 2000, total: m.started }, T0 + 1);
    const carried = JSON.parse(JSON.stringify(m)) as CampaignMachineState;
    assert.deepEqual(decideCampaign(carried, T0 + 5), decideCampaign(m, T0 + 5));
  });
});
