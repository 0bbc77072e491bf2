/**
 * Plays the mix against the system while faults fly: places each order at its time (and some a second time, which
 * must answer EXISTING), starts the campaign, and does to each order what its kind needs (a cancel while it is in
 * production, a change, a re-shipment once it came back). Every call is retried through outages until it answers or
 * its deadline passes; one that never answered is reported, as is any refusal of a valid request.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import path from 'node:path';
import type { CardOrdersClient } from '../client/card-orders-client.js';
import { writeSampleCampaignFile } from '../campaigns/sample-file.js';
import { CampaignAlreadyRanError, CampaignConflictError, CampaignFileError } from '../campaigns/errors.js';
import { OrderConflictError, OrderNotFoundError, OrderValidationError } from '../orders/errors.js';
import { correctedAddress, type OrderMix, type PlannedOrder } from './mix.js';
import type { SimulatorControl } from './simulator-control.js';
import type { ChangeRequest } from '../rules/contracts/card-order.js';

/** A call that got no answer within its deadline, through every retry. */
export interface Unanswered {
  kind: 'start' | 'update' | 'query';
  what: string;
  lastError: string;
}

/** A valid request the system refused, or an answer that breaks a promise (a second placement not EXISTING). */
export interface WrongAnswer {
  what: string;
  answer: string;
}

export interface DriveResult {
  placed: number;
  resubmits: number;
  /** Requests asked again, by the reason of the refusal before. */
  askedAgain: Record<string, number>;
  unanswered: Unanswered[];
  wrongAnswers: WrongAnswer[];
}

/** Refusals that no retry changes: the request itself is at fault. */
const permanent = [
  OrderValidationError,
  OrderConflictError,
  OrderNotFoundError,
  CampaignFileError,
  CampaignConflictError,
  CampaignAlreadyRanError,
];
const isPermanent = (err: unknown) => permanent.some((type) => err instanceof type);
const describe = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 300);

/**
 * Refusals an issuer answers by asking again later: the order has not yet heard that D1 took the card, or D1 did not
 * answer (D1_UNREACHABLE; an order that began under an older deploy says SERVICE_UNAVAILABLE, D1's own word).
 */
const askAgainReasons = new Set(['ORDER_NOT_AT_D1', 'D1_UNREACHABLE', 'SERVICE_UNAVAILABLE']);

/** How long one call is retried through outages before it counts as never answered. */
const ANSWER_DEADLINE_MS = 180_000;

export class Driver {
  readonly unanswered: Unanswered[] = [];
  readonly wrongAnswers: WrongAnswer[] = [];
  #placed = 0;
  #resubmits = 0;
  readonly #askedAgain: Record<string, number> = {};

  constructor(
    private readonly client: CardOrdersClient,
    private readonly simulator: SimulatorControl,
    private readonly runDir: string,
    private readonly startedAt: number,
    private readonly stopped: AbortSignal,
  ) {}

  /** Places every order and drives each to the point where only the system moves it; resolves when all are there. */
  async run(mix: OrderMix, issuerId: string): Promise<DriveResult> {
    await Promise.all([
      this.#campaign(mix, issuerId),
      ...mix.orders.filter((order) => order.request).map((order) => this.#drive(order)),
    ]);
    return {
      placed: this.#placed,
      resubmits: this.#resubmits,
      askedAgain: this.#askedAgain,
      unanswered: this.unanswered,
      wrongAnswers: this.wrongAnswers,
    };
  }

  /** `call`, retried every second through transient failures; undefined (and reported) when it never answered. */
  async #answer<T>(kind: Unanswered['kind'], what: string, call: () => Promise<T>): Promise<T | undefined> {
    const deadline = Date.now() + ANSWER_DEADLINE_MS;
    // A call that hangs (an update to a wedged order) is given up at the deadline, or when the run stops.
    const givenUp = AbortSignal.any([this.stopped, AbortSignal.timeout(ANSWER_DEADLINE_MS)]);
    const unanswered = new Promise<{ gaveUp: true }>((resolve) => {
      if (givenUp.aborted) resolve({ gaveUp: true });
      givenUp.addEventListener('abort', () => resolve({ gaveUp: true }), { once: true });
    });
    let lastError: unknown = 'no answer before the deadline';
    while (Date.now() < deadline && !this.stopped.aborted) {
      const attempt = call().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      const outcome = await Promise.race([attempt, unanswered]);
      if ('gaveUp' in outcome) break;
      if (!('error' in outcome)) return outcome.value;
      if (isPermanent(outcome.error)) {
        this.wrongAnswers.push({ what, answer: describe(outcome.error) });
        return undefined;
      }
      lastError = outcome.error;
      await delay(1_000);
    }
    this.unanswered.push({ kind, what, lastError: describe(lastError) });
    return undefined;
  }

  async #untilSecond(atS: number): Promise<void> {
    const waitMs = this.startedAt + atS * 1000 - Date.now();
    if (waitMs > 0) await delay(waitMs, undefined, { signal: this.stopped }).catch(() => {});
  }

  async #drive(order: PlannedOrder): Promise<void> {
    await this.#untilSecond(order.placeAtS);
    const request = order.request;
    if (!request || this.stopped.aborted) return;
    const id = order.issuerRequestId;
    const placed = await this.#answer('start', `place ${id}`, () => this.client.orderCard(request));
    if (!placed) return;
    this.#placed += 1;
    if (order.resubmit) {
      this.#resubmits += 1;
      const again = await this.#answer('start', `place ${id} again`, () => this.client.orderCard(request));
      if (again && again.placement !== 'EXISTING') {
        this.wrongAnswers.push({ what: `place ${id} again`, answer: again.placement });
      }
    }
    switch (order.scenario) {
      case 'cancelled-in-production': {
        await this.simulator.untilInProduction(order.cardId, this.stopped);
        const cancelled = await this.#request(
          order,
          'cancel',
          (requestId) => this.client.cancelOrder(id, { requestId }),
          'CANCELLED',
        );
        // A cancel that failed is reported; the card then goes on, so the order ends (at the wrong end), not lost.
        if (!cancelled) await this.simulator.release(order.cardId);
        return;
      }
      case 'accelerated':
      case 'redirected': {
        // Held in production until the change is answered, then let go to ship.
        const change: ChangeRequest =
          order.scenario === 'accelerated'
            ? { type: 'ACCELERATE' }
            : { type: 'REDIRECT', newDeliveryAddress: correctedAddress };
        await this.simulator.untilInProduction(order.cardId, this.stopped);
        try {
          await this.#request(
            order,
            change.type.toLowerCase(),
            (requestId) => this.client.changeOrder(id, change, { requestId }),
            'ACCEPTED',
          );
        } finally {
          await this.simulator.release(order.cardId);
        }
        return;
      }
      case 'returned-reshipped':
        if (!(await this.#untilStatus(id, 'RETURNED'))) return;
        await this.#request(
          order,
          'reship',
          (requestId) => this.client.reshipOrder(id, correctedAddress, { requestId }),
          'RESHIPPED',
        );
        return;
      default:
        return;
    }
  }

  /**
   * A request to a running order (cancel, change, re-ship), sent until it gets the outcome `wanted`. Each try keeps
   * its request id through retries, so a request whose answer was lost is not made twice. Refused because the order
   * has not yet heard that D1 took the card, or because D1 is down (`askAgainReasons`), it is asked again under a new
   * id, as an issuer would; any other refusal is a wrong answer. True once it got `wanted`.
   */
  async #request(
    order: PlannedOrder,
    action: string,
    send: (requestId: string) => Promise<{ outcome: string; reason?: string | undefined }>,
    wanted: string,
  ): Promise<boolean> {
    const what = `${action} ${order.issuerRequestId}`;
    // Asked again until the run's deadline: an outage and a slow machine together may last longer than one call's.
    for (let attempt = 1; ; attempt++) {
      const result = await this.#answer('update', what, () => send(`${order.issuerRequestId}.${action}${attempt}`));
      if (!result) return false;
      if (result.outcome === wanted) return true;
      const reason = result.reason ?? '';
      if (!askAgainReasons.has(reason) || this.stopped.aborted) {
        this.wrongAnswers.push({ what, answer: `${result.outcome} ${reason}`.trim() });
        return false;
      }
      this.#askedAgain[reason] = (this.#askedAgain[reason] ?? 0) + 1;
      await delay(2_000);
    }
  }

  /** Reads the order (queries through outages) until its status is `status`; false when it never got there. */
  async #untilStatus(id: string, status: string): Promise<boolean> {
    while (!this.stopped.aborted) {
      const reading = await this.#answer('query', `read ${id}`, () => this.client.getOrder(id));
      if (!reading) return false;
      if (reading.status === status) return true;
      if (reading.execution !== 'RUNNING') return false;
      await delay(2_000);
    }
    return false;
  }

  async #campaign(mix: OrderMix, issuerId: string): Promise<void> {
    const { campaignId, prefix, cards, startAtS } = mix.campaign;
    const file = path.join(this.runDir, `${campaignId}.csv`);
    await writeSampleCampaignFile(file, { cards, format: 'csv', issuerId, prefix });
    await this.#untilSecond(startAtS);
    if (this.stopped.aborted) return;
    const started = await this.#answer('start', `campaign ${campaignId}`, () =>
      this.client.startCampaign({ file, campaignId }),
    );
    if (started) this.#placed += cards;
  }
}
