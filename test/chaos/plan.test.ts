import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countFaults } from '../../chaos/faults.js';
import { expectedD1Orders, planMix, scenarios } from '../../chaos/mix.js';
import { parseChaosOptions } from '../../chaos/options.js';
import { SeededRandom } from '../../chaos/random.js';
import { judge, type ChaosFindings } from '../../chaos/report.js';
import { findDuplicates, nondeterminismKind } from '../../chaos/inspect.js';
import proto from '@temporalio/proto';
import { CliUsageError } from '../../common/errors.js';
import { cardOrderRequestSchema } from '../../orders/schema.js';
import type { OrderSummary } from '../../simulator/order-records.js';

const plan = (seed: number, total = 200) =>
  planMix(new SeededRandom(seed).fork('mix'), { total, runId: 'r1', issuerId: 'ISSUER0001', placeWindowS: 60 });

describe('chaos plan', () => {
  it('draws the same mix, times and faults for the same seed, and another for another seed', () => {
    assert.deepEqual(plan(7), plan(7));
    assert.notDeepEqual(
      plan(7).orders.map((order) => order.scenario),
      plan(8).orders.map((order) => order.scenario),
    );
  });

  it('places every kind of order, each a valid order with its own card and secrets', () => {
    const mix = plan(3);
    assert.equal(mix.orders.length, 200);
    for (const scenario of scenarios) {
      assert.ok(
        mix.orders.filter((order) => order.scenario === scenario).length >= 20,
        `${scenario}: about one in nine`,
      );
    }
    assert.equal(new Set(mix.orders.map((order) => order.cardId)).size, 200, 'no two orders share a card');
    assert.equal(new Set(mix.orders.map((order) => order.secrets[0])).size, 200, 'no two orders share a PAN');
    for (const order of mix.orders.filter((o) => o.request)) {
      assert.ok(cardOrderRequestSchema.safeParse(order.request).success, `${order.issuerRequestId} is a valid order`);
      assert.ok(order.placeAtS >= 0 && order.placeAtS <= 60);
    }
    assert.equal(mix.campaign.cards, mix.orders.filter((order) => order.scenario === 'campaign-card').length);
  });

  it('sends each card down its path by its own ids: failures, holds, lost notifications, returns', () => {
    const mix = plan(5);
    const cards = (scenario: string) =>
      mix.orders.filter((order) => order.scenario === scenario).map((order) => order.cardId);
    const faults = mix.simulatorFaults;
    assert.deepEqual(
      faults.outcomes?.map((rule) => rule.match.cardId),
      [...cards('production-failed'), ...cards('out-of-stock-reordered')],
    );
    assert.ok(faults.outcomes?.filter((rule) => rule.errorCode === 'OUT_OF_STOCK').every((rule) => rule.times === 1));
    assert.deepEqual(faults.dropNotificationCardIds, cards('notifications-lost'));
    assert.deepEqual(faults.holdCardIds, [
      ...cards('cancelled-in-production'),
      ...cards('accelerated'),
      ...cards('redirected'),
    ]);
    assert.deepEqual(
      faults.returnIssuerRequestIds,
      mix.orders.filter((order) => order.scenario === 'returned-reshipped').map((order) => order.issuerRequestId),
    );
  });
});

describe('chaos checks', () => {
  const summary = (cardId: string, issuerRequestId: string) => ({ cardId, issuerRequestId }) as OrderSummary;

  it('counts a card with more D1 orders than its kind makes, and a card the run never ordered', () => {
    const mix = plan(9, 20);
    const shipped = mix.orders.find((order) => order.scenario === 'shipped');
    const stock = mix.orders.find((order) => order.scenario === 'out-of-stock-reordered');
    assert.ok(shipped && stock);
    assert.equal(expectedD1Orders['out-of-stock-reordered'], 2);
    const d1 = [
      summary(shipped.cardId, shipped.issuerRequestId),
      summary(stock.cardId, stock.issuerRequestId),
      summary(stock.cardId, `${stock.issuerRequestId}--s1`),
    ];
    assert.deepEqual(findDuplicates(mix.orders, d1), [], 'the re-order of an out-of-stock card is expected');
    assert.deepEqual(findDuplicates(mix.orders, [...d1, summary(shipped.cardId, 'another-request')]), [
      { cardId: shipped.cardId, scenario: 'shipped', expected: 1, d1Orders: 2 },
    ]);
    assert.deepEqual(findDuplicates(mix.orders, [summary('stranger', 'x')]), [
      { cardId: 'stranger', scenario: 'untracked', expected: 0, d1Orders: 1 },
    ]);
  });

  it('fails the run on any broken promise, naming it, and passes a clean one', () => {
    const clean: ChaosFindings = {
      seed: 1,
      options: { orders: 20, durationS: 60, deadlineS: 60, workers: 2, stack: false },
      runDir: '/tmp/x',
      elapsedS: 100,
      orders: {},
      lost: [],
      wrongEnd: [],
      duplicates: [],
      resubmits: 3,
      askedAgain: {},
      unanswered: [],
      wrongAnswers: [],
      workflowTaskFailures: { UNHANDLED_COMMAND: 2 },
      nondeterminism: [],
      olderCodeRefusals: ['card-order:ISSUER0001:o2: event 42: [TMPRL1100] Change id order-behaviour-4 ...'],
      replay: { replayed: 20, failed: [] },
      undecodable: [],
      cardData: [],
      unexpectedExits: [],
      d1Calls: { orderRequests: 1, batchRequests: 0, batchCards: 0 },
      faults: countFaults([{ kind: 'worker-kill', target: 'worker-1', atS: 5, forS: 1 }]),
      injected: [],
    };
    assert.deepEqual(judge(clean).failing, []);
    assert.equal(
      judge(clean).verdict,
      'PASS',
      'task failures alone (a killed worker, an older worker refusing a newer history in a roll) are reported, not failed',
    );
    const broken = judge({
      ...clean,
      cardData: [{ file: 'worker-1.log', order: 'o1' }],
      replay: { replayed: 0, failed: [], error: 'npm run replay exited 1' },
      unexpectedExits: [{ name: 'worker-2', how: 'code 1', atS: 30 }],
    });
    assert.equal(broken.verdict, 'FAIL');
    assert.deepEqual(broken.failing, ['replay failures', 'card data', 'unexpected exits']);
  });
});

describe('nondeterminism in a roll (--upgrade-from, seed 2)', () => {
  const failed = (identity: string, cause: number, message: string) => ({ identity, cause, failure: { message } });
  const older = new Set(['4242@vm']);
  const {
    WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR: nde,
    WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND: unhandled,
  } = proto.temporal.api.enums.v1.WorkflowTaskFailedCause;
  const unknownMarker =
    '[TMPRL1100] Nondeterminism error: Change id order-behaviour-4 does not match expected id delivery-window';

  it("counts an older worker's refusal of a newer history apart, and every other worker's as nondeterminism", () => {
    assert.equal(nondeterminismKind(failed('4242@vm', nde, unknownMarker), older), 'olderCodeRefusals');
    assert.equal(nondeterminismKind(failed('5151@vm', nde, unknownMarker), older), 'nondeterminism');
    assert.equal(nondeterminismKind(failed('5151@vm', nde, unknownMarker), new Set()), 'nondeterminism');
    assert.equal(nondeterminismKind(failed('4242@vm', unhandled, 'UnhandledCommand'), older), undefined);
  });
});

describe('chaos options', () => {
  it('takes the defaults, --quick, and explicit values over --quick', () => {
    const defaults = parseChaosOptions(['--seed', '4']);
    assert.deepEqual(
      { ...defaults },
      {
        seed: 4,
        orders: 200,
        durationMs: 240_000,
        deadlineMs: 360_000,
        workers: 2,
        quick: false,
        stack: false,
        keep: false,
        upgradeFrom: undefined,
      },
    );
    const quick = parseChaosOptions(['--quick', '--orders', '30', '--duration', '2m']);
    assert.equal(quick.orders, 30);
    assert.equal(quick.durationMs, 120_000);
    assert.equal(quick.deadlineMs, 180_000);
  });

  it('refuses an unknown option or a bad value, naming it', () => {
    assert.throws(() => parseChaosOptions(['--orderz', '3']), CliUsageError);
    assert.throws(
      () => parseChaosOptions(['--workers', '1']),
      (err: CliUsageError) => err.argument === '--workers',
    );
    assert.throws(
      () => parseChaosOptions(['--duration', 'soon']),
      (err: CliUsageError) => err.argument === '--duration',
    );
  });
});
