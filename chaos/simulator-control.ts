/**
 * The run's hold on the D1 simulator, through its `/__sim` routes: the knobs that send each card down its path, the
 * storms and the outage the fault plan turns on and off (layered, so a storm ending does not end an outage), and
 * what D1 received, for the report. Patches go one at a time, each with the whole of the lists it changes, so two
 * tasks never undo each other's change.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { Faults, FaultsPatch } from '../simulator/faults.js';
import type { OrderSummary } from '../simulator/order-records.js';

type StormKnobs = Pick<
  Faults,
  | 'errorRate'
  | 'rateLimitRate'
  | 'timeoutRate'
  | 'duplicateNotificationRate'
  | 'reorderNotifications'
  | 'batchSize'
  | 'batchWindowMs'
>;

/** The storm knobs, all calm. */
export const calm: StormKnobs = {
  errorRate: 0,
  rateLimitRate: 0,
  timeoutRate: 0,
  duplicateNotificationRate: 0,
  reorderNotifications: false,
  batchSize: 1,
  batchWindowMs: 0,
};
export type Storm = Partial<StormKnobs> & Pick<FaultsPatch, 'retryAfterSeconds'>;

/** Stages at which a held card is in production (it stops at CARD_PROD_ONGOING). */
const inProduction = new Set(['CARD_PROD_ONGOING']);

export class SimulatorControl {
  #queue: Promise<unknown> = Promise.resolve();
  #held = new Set<string>();
  #storm: Storm = {};
  #outage = false;
  #orders: { at: number; list: Promise<OrderSummary[]> } | undefined;

  constructor(private readonly url: string) {}

  async #call(method: 'GET' | 'POST', route: string, body?: unknown): Promise<unknown> {
    const response = await request(`${this.url}${route}`, {
      method,
      ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300)
      throw new Error(`the simulator answered ${route} with ${response.statusCode}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** Sends `patch`, after every patch sent before it. */
  patch(patch: FaultsPatch): Promise<unknown> {
    const sent = this.#queue.then(() => this.#call('POST', '/__sim/faults', patch));
    this.#queue = sent.catch(() => {});
    return sent;
  }

  /** Sets the paths of the mix's cards; `holdCardIds` is remembered for {@link release}. */
  async setUp(patch: FaultsPatch): Promise<void> {
    this.#held = new Set(patch.holdCardIds ?? []);
    await this.patch(patch);
  }

  /** Lets a held card's production go on. */
  async release(cardId: string): Promise<void> {
    this.#held.delete(cardId);
    await this.patch({ holdCardIds: [...this.#held] });
  }

  /** Every order D1 received, read at most once a second whoever asks. */
  orders(): Promise<OrderSummary[]> {
    if (!this.#orders || Date.now() - this.#orders.at > 1_000) {
      const list = this.#call('GET', '/__sim/orders') as Promise<OrderSummary[]>;
      this.#orders = { at: Date.now(), list };
      list.catch(() => (this.#orders = undefined));
    }
    return this.#orders.list;
  }

  /** Resolves once D1 has the card's latest order in production (or `stopped` aborts). */
  async untilInProduction(cardId: string, stopped: AbortSignal): Promise<void> {
    while (!stopped.aborted) {
      const latest = (await this.orders().catch(() => [])).filter((order) => order.cardId === cardId).at(-1);
      if (latest && inProduction.has(latest.detailsStatus)) return;
      await delay(1_000);
    }
  }

  /** Starts a storm (replacing the one in force), or ends it with `{}`. An outage in force keeps every call failing. */
  storm(storm: Storm): Promise<unknown> {
    this.#storm = storm;
    return this.#apply();
  }

  /** D1 unavailable (every banking call 503) while `on`. */
  outage(on: boolean): Promise<unknown> {
    this.#outage = on;
    return this.#apply();
  }

  #apply(): Promise<unknown> {
    return this.patch({ ...calm, ...this.#storm, ...(this.#outage && { errorRate: 1 }) });
  }

  /** The order calls D1 received. */
  stats(): Promise<{ orderRequests: number; batchRequests: number; batchCards: number }> {
    return this.#call('GET', '/__sim/stats') as Promise<{
      orderRequests: number;
      batchRequests: number;
      batchCards: number;
    }>;
  }
}
