/**
 * The mix of orders a chaos run places, each with the end it must reach whatever fails: one kind of order per path
 * through the saga, and the simulator's knobs that send each card down its path (by card or request id, so storms
 * and kills cannot change which path a card takes).
 *
 * @module
 */
import { testPan } from '../campaigns/sample-file.js';
import { sampleAddress, sampleCardOrder } from '../orders/sample-order.js';
import type { CardOrderRequest } from '../orders/schema.js';
import type { FaultsPatch, OutcomeRule } from '../simulator/faults.js';
import type { CardOrderStatus } from '../rules/contracts/card-order.js';
import type { SeededRandom } from './random.js';

export const scenarios = [
  'shipped',
  'production-failed',
  'out-of-stock-reordered',
  'cancelled-in-production',
  'notifications-lost',
  'accelerated',
  'redirected',
  'returned-reshipped',
  'campaign-card',
] as const;
export type Scenario = (typeof scenarios)[number];

/** Where each kind of order must end. */
export const expectedEnd: Readonly<Record<Scenario, CardOrderStatus>> = {
  shipped: 'SHIPPED',
  'production-failed': 'COMPENSATED',
  'out-of-stock-reordered': 'SHIPPED',
  'cancelled-in-production': 'CANCELLED',
  'notifications-lost': 'SHIPPED',
  accelerated: 'SHIPPED',
  redirected: 'SHIPPED',
  'returned-reshipped': 'SHIPPED',
  'campaign-card': 'SHIPPED',
};

/** D1 orders each kind of order makes of its card: an out-of-stock card is ordered again, a returned one re-shipped. */
export const expectedD1Orders: Readonly<Record<Scenario, number>> = {
  shipped: 1,
  'production-failed': 1,
  'out-of-stock-reordered': 2,
  'cancelled-in-production': 1,
  'notifications-lost': 1,
  accelerated: 1,
  redirected: 1,
  'returned-reshipped': 2,
  'campaign-card': 1,
};

/** The failures a `production-failed` card meets, in turn: at data preparation and at personalization. */
const productionFailures: readonly Pick<OutcomeRule, 'at' | 'errorCode'>[] = [
  { at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' },
  { at: 'DATA_EXCEPTION', errorCode: 'TEMPLATE_NOT_FOUND' },
  { at: 'DATA_EXCEPTION', errorCode: 'INVALID_CARD_DATA' },
];

export interface PlannedOrder {
  scenario: Scenario;
  issuerRequestId: string;
  cardId: string;
  expected: CardOrderStatus;
  /** The card data that must never appear in clear: the PAN, and the name for single orders (campaign names repeat). */
  secrets: string[];
  /** Absent for campaign cards: the campaign places them. */
  request?: CardOrderRequest;
  /** Placed a second time, identically: the answer must be EXISTING. */
  resubmit: boolean;
  /** Seconds after the start at which it is placed. */
  placeAtS: number;
}

export interface OrderMix {
  orders: PlannedOrder[];
  campaign: { campaignId: string; prefix: string; cards: number; startAtS: number };
  /** The simulator's knobs that send each card down its path. */
  simulatorFaults: FaultsPatch;
}

/** The corrected address of a redirect or a re-shipment. */
export const correctedAddress = { ...sampleAddress, line1: '221 Corrected Ave', zipCode: '10002' } as const;

/** A name no other order has: CHAOS HOLDER and the index in letters. */
function holderName(i: number): string {
  let letters = '';
  for (let n = i; ; n = Math.floor(n / 26) - 1) {
    letters = String.fromCharCode(65 + (n % 26)) + letters;
    if (n < 26) break;
  }
  return `CHAOS HOLDER ${letters}`;
}

/**
 * `total` orders: about one in nine of each kind, campaign cards included, in a seeded order, placed over the first
 * `placeWindowS` seconds; a quarter of the single orders are placed twice.
 */
export function planMix(
  random: SeededRandom,
  { total, runId, issuerId, placeWindowS }: { total: number; runId: string; issuerId: string; placeWindowS: number },
): OrderMix {
  const campaignCards = Math.max(10, Math.round(total / scenarios.length));
  const singles = total - campaignCards;
  const kinds = scenarios.filter((scenario) => scenario !== 'campaign-card');
  const assigned = random.shuffle(Array.from({ length: singles }, (_, i) => kinds[i % kinds.length] as Scenario));
  const orders: PlannedOrder[] = assigned.map((scenario, i) => {
    const id = `chaos-${runId}-${String(i).padStart(4, '0')}`;
    const pan = testPan(500_000 + i);
    const name = holderName(i);
    return {
      scenario,
      issuerRequestId: id,
      cardId: `card-${id}`,
      expected: expectedEnd[scenario],
      secrets: [pan, name],
      resubmit: random.chance(0.25),
      placeAtS: random.int(0, placeWindowS),
      request: sampleCardOrder(id, {
        issuerId,
        cardId: `card-${id}`,
        consumerId: `cons-${i}`,
        services: {
          issuance: 'CREATION',
          delivery: 'usps-imb',
          cardCarrier: 'carrier-standard',
          packaging: 'standard-envelope',
          pinMailer: false,
        },
        // Every order its own card and holder, so a leak names which order it came from.
        sensitiveData: { pan, exp: '3012', name, cvv2: '123' },
        // Lost notifications are noticed after 3 s of silence, then polled every 2 to 4 s.
        ...(scenario === 'notifications-lost' && {
          timings: { notificationTimeout: '3s', pollInterval: '2s', pollMaxInterval: '4s' },
        }),
      }),
    };
  });
  const prefix = `chaos-${runId}-campaign`;
  for (let i = 0; i < campaignCards; i++) {
    const id = `${prefix}-${String(i).padStart(6, '0')}`;
    orders.push({
      scenario: 'campaign-card',
      issuerRequestId: id,
      cardId: id,
      expected: expectedEnd['campaign-card'],
      secrets: [testPan(i)],
      resubmit: false,
      placeAtS: 0,
    });
  }
  const of = (scenario: Scenario) => orders.filter((order) => order.scenario === scenario);
  const outcomes: OutcomeRule[] = [
    ...of('production-failed').map((order, i) => ({
      match: { cardId: order.cardId },
      ...(productionFailures[i % productionFailures.length] as Pick<OutcomeRule, 'at' | 'errorCode'>),
    })),
    ...of('out-of-stock-reordered').map((order) => ({
      match: { cardId: order.cardId },
      at: 'DATA_EXCEPTION' as const,
      errorCode: 'OUT_OF_STOCK',
      times: 1,
    })),
  ];
  return {
    orders,
    campaign: { campaignId: `chaos-${runId}`, prefix, cards: campaignCards, startAtS: random.int(0, placeWindowS) },
    simulatorFaults: {
      outcomes,
      dropNotificationCardIds: of('notifications-lost').map((order) => order.cardId),
      holdCardIds: [...of('cancelled-in-production'), ...of('accelerated'), ...of('redirected')].map(
        (order) => order.cardId,
      ),
      returnIssuerRequestIds: of('returned-reshipped').map((order) => order.issuerRequestId),
      shipmentUpdates: ['IN_TRANSIT'],
    },
  };
}
