import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  BACKLOG_SETTLE_MS,
  campaignView,
  cardsInFlight,
  decideCampaign,
  describeCampaign,
  newCampaignMachine,
  onBacklogRead,
  onCancel,
  onCardSettled,
  onCounted,
  onPageFailed,
  onPageSubmitted,
  onPause,
  onPulled,
  onResume,
  type CampaignMachineState,
  type PageOutcome,
} from '../../rules/campaign/campaign-machine.js';

const T0 = Date.UTC(2026, 11, 1, 9, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const PAGE = 10;
const timings = {
  pageSize: PAGE,
  maxInFlight: 25,
  checkIntervalMs: MINUTE,
  checkMaxIntervalMs: 6 * HOUR,
  cardSubmitTimeoutMs: HOUR,
  pageHeartbeatTimeoutMs: MINUTE,
};

function campaign(pages = 4): CampaignMachineState {
  const valid = pages * PAGE;
  return newCampaignMachine(
    { issuerId: 'ISSUER0001', campaignId: 'renewals-2026-12', fileDigest: 'abc' },
    { pages, total: valid, valid, invalid: 0 },
    timings,
    T0,
  );
}

const fullPage: PageOutcome = { started: PAGE, accepted: PAGE, refused: 0, conflicts: 0, alreadyOrdered: 0 };

function settlePage(m: CampaignMachineState, page: number, status: 'SHIPPED' | 'FAILED' = 'SHIPPED', cards = PAGE) {
  for (let slot = 0; slot < cards; slot += 1) onCardSettled(m, { page, slot, status });
}

describe('campaign machine (records)', () => {
  it('paces its pages on what the pages started and the cards reported, with no visibility reading', () => {
    const m = campaign();
    assert.deepEqual(decideCampaign(m, T0), { kind: 'submitPage', page: 0 });
    onPageSubmitted(m, 0, fullPage, T0);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'submitPage', page: 1 });
    onPageSubmitted(m, 1, fullPage, T0);
    // 20 in flight + 10 would pass 25: wait for cards to settle.
    assert.equal(decideCampaign(m, T0).kind, 'wait');
    for (let slot = 0; slot < 5; slot += 1) onCardSettled(m, { page: 0, slot, status: 'SHIPPED' });
    assert.equal(cardsInFlight(m), 15);
    assert.deepEqual(decideCampaign(m, T0 + 1), { kind: 'submitPage', page: 2 });
  });

  it('completes once every started card reported, and counts cards another order has as done', () => {
    const m = campaign(2);
    onPageSubmitted(m, 0, fullPage, T0);
    // Page 1: 7 started, 2 already ordered by someone else, 1 conflicting: those three never report.
    onPageSubmitted(m, 1, { started: 7, accepted: 7, refused: 0, conflicts: 1, alreadyOrdered: 2 }, T0);
    settlePage(m, 0);
    settlePage(m, 1, 'SHIPPED', 6);
    assert.equal(decideCampaign(m, T0 + 1).kind, 'wait');
    onCardSettled(m, { page: 1, slot: 6, status: 'FAILED' });
    assert.deepEqual(decideCampaign(m, T0 + 2), { kind: 'finish' });
    const view = campaignView(m);
    assert.equal(view.state, 'COMPLETED');
    assert.deepEqual(view.settled, { SHIPPED: 16, FAILED: 1 });
    assert.equal(view.alreadyOrdered, 2);
    assert.equal(view.inFlight, 0);
  });

  it('counts each card once: a repeated report, a card that continued as new, or a report for no card', () => {
    const m = campaign(1);
    onPageSubmitted(m, 0, fullPage, T0);
    assert.equal(onCardSettled(m, { page: 0, slot: 3, status: 'SHIPPED' }), true);
    assert.equal(onCardSettled(m, { page: 0, slot: 3, status: 'SHIPPED' }), false);
    assert.equal(onCardSettled(m, { page: 0, slot: 3, status: 'RETURNED' }), false);
    assert.equal(onCardSettled(m, { page: 1, slot: 0, status: 'SHIPPED' }), false, 'no page 1');
    assert.equal(onCardSettled(m, { page: 0, slot: PAGE, status: 'SHIPPED' }), false, 'no such slot');
    assert.equal(onCardSettled(m, { page: 0.5, slot: 1, status: 'SHIPPED' }), false);
    assert.equal(cardsInFlight(m), PAGE - 1);
    assert.deepEqual(campaignView(m).settled, { SHIPPED: 1 });
  });

  it('counts the reports of a page that failed part-way once the page goes through', () => {
    const m = campaign(2);
    onPageFailed(m, 0, 'ERR_D1_UNAVAILABLE', T0);
    // Cards the failed attempt started order themselves and settle before the page goes again.
    onCardSettled(m, { page: 0, slot: 0, status: 'SHIPPED' });
    assert.equal(cardsInFlight(m), 0, 'not started yet as far as the campaign knows');
    onPageSubmitted(m, 0, fullPage, T0 + MINUTE);
    assert.equal(cardsInFlight(m), PAGE - 1);
  });

  it('gives a failing page a doubling wait, and pause and cancel act during it', () => {
    const m = campaign(2);
    onPageFailed(m, 0, 'ERR_D1_UNAVAILABLE', T0);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'wait', until: T0 + MINUTE });
    assert.deepEqual(decideCampaign(m, T0 + MINUTE), { kind: 'submitPage', page: 0 });
    onPageFailed(m, 0, 'ERR_D1_UNAVAILABLE', T0 + MINUTE);
    assert.deepEqual(decideCampaign(m, T0 + MINUTE), { kind: 'wait', until: T0 + 3 * MINUTE });
    assert.equal(campaignView(m).pageFailure?.failures, 2);
    onPause(m);
    assert.deepEqual(decideCampaign(m, T0 + MINUTE), { kind: 'wait', until: undefined });
    onResume(m);
    onCancel(m, true);
    // The failed page may have started some of its cards: they are pulled with the others.
    assert.deepEqual(decideCampaign(m, T0 + MINUTE), { kind: 'pull', pages: 1 });
    onPulled(m);
    assert.deepEqual(decideCampaign(m, T0 + MINUTE), { kind: 'finish' });
    assert.equal(m.state, 'CANCELLED');
  });

  it('lowers its in-flight figure from a visibility reading taken after visibility caught up, never raises it', () => {
    const m = campaign(1);
    onPageSubmitted(m, 0, fullPage, T0);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'wait', until: T0 + MINUTE });
    // Too soon after the page: visibility may not list its cards yet, so a low reading is not believed.
    onCounted(m, 0, T0 + 1);
    assert.equal(cardsInFlight(m), PAGE);
    assert.deepEqual(decideCampaign(m, T0 + 1 + MINUTE), { kind: 'count' });
    // Two cards were terminated by an operator: they never report, and the reading lets the campaign end.
    settlePage(m, 0, 'SHIPPED', 8);
    onCounted(m, 5, T0 + 1 + MINUTE);
    assert.equal(cardsInFlight(m), 2, 'the records are lower: a reading never raises the figure');
    onCounted(m, 0, T0 + 3 * MINUTE);
    assert.deepEqual(decideCampaign(m, T0 + 3 * MINUTE), { kind: 'finish' });
    assert.equal(m.state, 'COMPLETED');
  });

  it('backs off its readings while nothing moves, up to the cap', () => {
    const m = campaign(1);
    onPageSubmitted(m, 0, fullPage, T0);
    let now = T0 + MINUTE;
    const waits: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      const step = decideCampaign(m, now);
      if (step.kind === 'wait' && step.until !== undefined) {
        waits.push(step.until - now);
        now = step.until;
        continue;
      }
      assert.equal(step.kind, 'count');
      onCounted(m, PAGE, now);
    }
    assert.ok(waits.includes(6 * HOUR), 'capped');
    assert.ok(
      waits.every((w, i) => i === 0 || w >= (waits[i - 1] ?? 0)),
      'never shorter while quiet',
    );
  });

  it('never submits a page twice, never ends with a card in flight, and ends whatever the order of events', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('settle' as const), page: fc.nat(3), slot: fc.nat(PAGE - 1) }),
      fc.record({ kind: fc.constant('fail' as const) }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 2 * HOUR }) }),
      fc.record({ kind: fc.constant('read' as const), n: fc.nat(40) }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 120 }), (events) => {
        const m = campaign(4);
        let now = T0;
        const submitted: number[] = [];
        const step = (failNext: boolean) => {
          const s = decideCampaign(m, now);
          if (s.kind !== 'submitPage') return;
          if (failNext) return onPageFailed(m, s.page, 'X', now);
          submitted.push(s.page);
          onPageSubmitted(m, s.page, fullPage, now);
        };
        for (const e of events) {
          if (e.kind === 'settle') onCardSettled(m, { page: e.page, slot: e.slot, status: 'SHIPPED' });
          if (e.kind === 'tick') now += e.ms;
          // A reading is of cards actually open: never below what the records prove is in flight.
          if (e.kind === 'read') onCounted(m, Math.max(e.n, m.started - m.settledOnSubmittedPages), now);
          step(e.kind === 'fail');
          assert.ok(cardsInFlight(m) <= m.timings.maxInFlight + PAGE);
        }
        // Then every card reports and time passes: the campaign ends, every page submitted once.
        for (let i = 0; i < 40 && m.state === 'RUNNING'; i += 1) {
          for (let page = 0; page < 4; page += 1) settlePage(m, page);
          now += 6 * HOUR;
          step(false);
          decideCampaign(m, now);
        }
        assert.equal(m.state, 'COMPLETED');
        assert.deepEqual(submitted, [0, 1, 2, 3]);
        assert.equal(cardsInFlight(m), 0);
        assert.deepEqual(campaignView(m).settled, { SHIPPED: 40 });
      }),
    );
  });
});

describe("campaign machine (pages paced on the workers' backlog)", () => {
  const BACKLOG = 100;
  function paced(pages = 4, pacedByBacklog = true): CampaignMachineState {
    const valid = pages * PAGE;
    return newCampaignMachine(
      { issuerId: 'ISSUER0001', campaignId: 'renewals-2026-12', fileDigest: 'abc' },
      { pages, total: valid, valid, invalid: 0 },
      { ...timings, maxInFlight: 1000, maxCardBacklog: BACKLOG },
      T0,
      pacedByBacklog,
    );
  }

  it('reads the backlog before each page, once the page settled, and holds the next page while it is high', () => {
    const m = paced();
    assert.deepEqual(decideCampaign(m, T0), { kind: 'readBacklog' });
    onBacklogRead(m, 0, T0);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'submitPage', page: 0 });
    onPageSubmitted(m, 0, fullPage, T0);
    // The server's statistics lag a few seconds: the reading after page 0 waits until they show its cards.
    const settled = T0 + BACKLOG_SETTLE_MS;
    assert.deepEqual(decideCampaign(m, T0 + 1), { kind: 'wait', until: settled });
    assert.deepEqual(decideCampaign(m, settled), { kind: 'readBacklog' });
    onBacklogRead(m, BACKLOG + 1, settled);
    assert.deepEqual(decideCampaign(m, settled), { kind: 'wait', until: T0 + MINUTE });
    assert.equal(campaignView(m).heldByBacklog, BACKLOG + 1);
    assert.match(describeCampaign(m), /next page waits for the workers \(101 card tasks queued\)/);
    // A stale reading is read again; the workers caught up, the page goes.
    assert.deepEqual(decideCampaign(m, settled + MINUTE), { kind: 'readBacklog' });
    onBacklogRead(m, BACKLOG, settled + MINUTE);
    assert.equal(campaignView(m).heldByBacklog, undefined);
    assert.deepEqual(decideCampaign(m, settled + MINUTE), { kind: 'submitPage', page: 1 });
  });

  it('holds no page when the server reports no backlog, and lets pause and cancel act while a page is held', () => {
    const m = paced();
    onBacklogRead(m, undefined, T0);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'submitPage', page: 0 });
    onPageSubmitted(m, 0, fullPage, T0);
    onBacklogRead(m, 5000, T0);
    assert.equal(decideCampaign(m, T0).kind, 'wait');
    onPause(m);
    assert.equal(campaignView(m).heldByBacklog, undefined);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'wait', until: undefined });
    onCancel(m, false);
    assert.deepEqual(decideCampaign(m, T0), { kind: 'finish' });
    assert.equal(m.state, 'CANCELLED');
  });

  it('never reads the backlog in a campaign started before pages were paced', () => {
    for (const m of [paced(4, false), campaign()]) {
      assert.deepEqual(decideCampaign(m, T0), { kind: 'submitPage', page: 0 });
    }
  });

  it('never submits a page on a reading above the bound or from before the last page, and ends once it drains', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('backlog' as const), n: fc.nat(3 * BACKLOG) }),
      fc.record({ kind: fc.constant('settle' as const), page: fc.nat(3), slot: fc.nat(PAGE - 1) }),
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 2 * MINUTE }) }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 120 }), (events) => {
        const m = paced(4);
        let now = T0;
        let backlog = 0;
        const submitted: number[] = [];
        const step = () => {
          const s = decideCampaign(m, now);
          if (s.kind === 'readBacklog') return onBacklogRead(m, backlog, now);
          if (s.kind !== 'submitPage') return;
          const reading = m.backlog;
          assert.ok(reading && reading.afterPage === s.page && (reading.count ?? 0) <= BACKLOG, 'a low reading');
          assert.ok(now < reading.at + MINUTE, 'not a stale one');
          assert.ok(reading.at >= (m.lastPageAt ?? -Infinity) + BACKLOG_SETTLE_MS, 'taken once the page showed');
          submitted.push(s.page);
          onPageSubmitted(m, s.page, fullPage, now);
        };
        for (const e of events) {
          if (e.kind === 'backlog') backlog = e.n;
          if (e.kind === 'settle') onCardSettled(m, { page: e.page, slot: e.slot, status: 'SHIPPED' });
          if (e.kind === 'tick') now += e.ms;
          step();
        }
        backlog = 0;
        for (let i = 0; i < 40 && m.state === 'RUNNING'; i += 1) {
          for (let page = 0; page < m.nextPage; page += 1) settlePage(m, page);
          now += MINUTE;
          step();
          step();
        }
        assert.equal(m.state, 'COMPLETED');
        assert.deepEqual(submitted, [0, 1, 2, 3]);
      }),
    );
  });
});
