/**
 * Delivery of operations to the issuer webhook as D1 does it: an OAuth client-credentials token from the
 * issuer's token endpoint (HTTP Basic, the id and secret form-urlencoded first as RFC 6749 §2.3.1 says), then
 * `POST .../notifications/d1/v2/issuers/{issuerId}/cards` with `{operations:[...]}` in batches, retried with
 * exponential backoff on any non-2xx answer, timeout or connection error. Faults may drop, duplicate or reorder
 * batches.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { basicAuthorization } from '../common/basic-auth.js';
import type { Logger } from '../common/logger.js';
import { tokenResponseSchema } from '../d1/schemas.js';
import type { Operation } from '../d1/report-schemas.js';
import { sleep, type Clock, type Timer } from './clock.js';
import type { FaultState } from './faults.js';

/** What happened to one batch, for `GET /__sim/notifications`. */
export interface DeliveryRecord {
  issuerId: string;
  /** Sent as `x-correlation-id` on every try of this batch. */
  correlationId: string;
  operations: Operation[];
  /** This batch is the second send of a delivered one (duplicateNotificationRate). */
  duplicate: boolean;
  state: 'sending' | 'delivered' | 'dropped' | 'failed';
  attempts: number;
  /** The webhook's last non-2xx status, or the last transport error. */
  lastStatus?: number;
  lastError?: string;
}

export interface NotifierOptions {
  /** The base URLs of the webhook's replicas, without a trailing slash; each try goes to the next one. */
  webhookUrls: readonly string[];
  clientId: string;
  clientSecret: string;
  retryMaxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
  clock: Clock;
  faults: FaultState;
  logger: Logger;
}

const MAX_RETRY_DELAY_MS = 30_000;
/** Oldest records are forgotten beyond this many. */
const MAX_RECORDS = 10_000;

interface IssuerQueue {
  issuerId: string;
  pending: Operation[];
  /** Operations taken by the drain under way and not yet sent (delivered, dropped or given up). */
  inDrain: number;
  timer: Timer | undefined;
  draining: boolean;
}

/** The webhook's token endpoint did not give a usable token; the try counts as failed. */
class WebhookTokenError extends Error {}

/** Sends operations to the issuer webhook, one batch at a time per issuer, so a card's events keep their order. */
export class Notifier {
  readonly #options: NotifierOptions;
  readonly #agent = new Agent({ keepAliveTimeout: 10_000 });
  #queues = new Map<string, IssuerQueue>();
  #records: DeliveryRecord[] = [];
  #token: { value: string; refreshAt: number } | undefined;
  #tokenRequest: Promise<string> | undefined;
  #nextReplica = 0;
  /** Aborted by reset and close: every send and backoff in progress stops. */
  #stop = new AbortController();

  constructor(options: NotifierOptions) {
    this.#options = options;
  }

  /** Queues one operation for delivery to `issuerId`'s webhook. */
  enqueue(issuerId: string, operation: Operation): void {
    const { faults, logger } = this.#options;
    if (faults.current.dropNotificationCardIds.includes(operation.cardId)) {
      this.#record(issuerId, [operation], false).state = 'dropped';
      logger.info({ issuerId }, 'notification dropped for its card (fault)');
      return;
    }
    let queue = this.#queues.get(issuerId);
    if (!queue) {
      queue = { issuerId, pending: [], inDrain: 0, timer: undefined, draining: false };
      this.#queues.set(issuerId, queue);
    }
    queue.pending.push(operation);
    this.#schedule(queue);
  }

  /** Operations queued or being sent: a benchmark waits for none before it measures an idle service. */
  pending(): number {
    let count = 0;
    for (const queue of this.#queues.values()) count += queue.pending.length + queue.inDrain;
    return count;
  }

  /** Every batch sent, being sent, dropped or given up, oldest first. */
  records(): DeliveryRecord[] {
    return structuredClone(this.#records);
  }

  /** Drops everything queued or in flight, the records and the cached token. */
  reset(): void {
    this.#abortAll();
    this.#stop = new AbortController();
    this.#records = [];
    this.#token = undefined;
    this.#tokenRequest = undefined;
  }

  /** Stops delivering and closes the connections to the webhook. */
  async close(): Promise<void> {
    this.#abortAll();
    await this.#agent.destroy();
  }

  #abortAll(): void {
    this.#stop.abort();
    for (const queue of this.#queues.values()) queue.timer?.cancel();
    this.#queues = new Map();
  }

  #schedule(queue: IssuerQueue): void {
    if (queue.draining || queue.timer) return;
    queue.timer = this.#options.clock.schedule(this.#options.faults.current.batchWindowMs, () => {
      queue.timer = undefined;
      void this.#drain(queue, this.#stop.signal);
    });
  }

  async #drain(queue: IssuerQueue, signal: AbortSignal): Promise<void> {
    queue.draining = true;
    try {
      const { batchSize, reorderNotifications } = this.#options.faults.current;
      const operations = queue.pending.splice(0);
      queue.inDrain = operations.length;
      if (reorderNotifications) operations.reverse();
      for (let i = 0; i < operations.length && !signal.aborted; i += batchSize) {
        const batch = operations.slice(i, i + batchSize);
        await this.#deliver(queue.issuerId, batch, signal);
        queue.inDrain -= batch.length;
      }
    } finally {
      queue.draining = false;
      queue.inDrain = 0;
    }
    if (queue.pending.length > 0 && !signal.aborted) this.#schedule(queue);
  }

  async #deliver(issuerId: string, operations: Operation[], signal: AbortSignal): Promise<void> {
    const { faults, logger } = this.#options;
    const record = this.#record(issuerId, operations, false);
    if (faults.chance(faults.current.dropNotificationRate)) {
      record.state = 'dropped';
      logger.info({ issuerId, correlationId: record.correlationId }, 'notification dropped (fault)');
      return;
    }
    await this.#sendWithRetries(record, signal);
    if (record.state === 'delivered' && faults.chance(faults.current.duplicateNotificationRate)) {
      await this.#sendWithRetries(this.#record(issuerId, operations, true), signal);
    }
  }

  #record(issuerId: string, operations: Operation[], duplicate: boolean): DeliveryRecord {
    const record: DeliveryRecord = {
      issuerId,
      correlationId: randomUUID(),
      operations,
      duplicate,
      state: 'sending',
      attempts: 0,
    };
    this.#records.push(record);
    if (this.#records.length > MAX_RECORDS) this.#records.shift();
    return record;
  }

  async #sendWithRetries(record: DeliveryRecord, signal: AbortSignal): Promise<void> {
    const { retryMaxAttempts, retryBaseMs, clock, logger } = this.#options;
    const context = { issuerId: record.issuerId, correlationId: record.correlationId };
    while (!signal.aborted) {
      record.attempts += 1;
      try {
        const status = await this.#post(record, signal);
        if (status >= 200 && status < 300) {
          record.state = 'delivered';
          logger.debug({ ...context, operations: record.operations.length, status }, 'notification delivered');
          return;
        }
        record.lastStatus = status;
      } catch (err) {
        if (signal.aborted) return;
        record.lastError = (err as { code?: string }).code ?? (err as Error).message;
      }
      if (record.attempts >= retryMaxAttempts) break;
      const delay = Math.min(retryBaseMs * 2 ** (record.attempts - 1), MAX_RETRY_DELAY_MS);
      logger.debug({ ...context, attempt: record.attempts, delayMs: delay }, 'notification will be retried');
      await sleep(clock, delay, signal);
    }
    if (signal.aborted) return;
    record.state = 'failed';
    logger.warn(
      { ...context, attempts: record.attempts, lastStatus: record.lastStatus, lastError: record.lastError },
      'notification given up after the last attempt',
    );
  }

  /** One try: the status the webhook answered, after one token refresh if it answered 401. */
  async #post(record: DeliveryRecord, signal: AbortSignal): Promise<number> {
    const webhookUrl = this.#nextWebhookUrl();
    const url = `${webhookUrl}/notifications/d1/v2/issuers/${encodeURIComponent(record.issuerId)}/cards`;
    const body = JSON.stringify({ operations: record.operations });
    const send = async (token: string) => {
      const response = await request(url, {
        ...this.#requestOptions(signal),
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-correlation-id': record.correlationId,
        },
        body,
      });
      await response.body.dump();
      return response.statusCode;
    };
    // The replicas share their signing secret, so a token from one is good at every other.
    const token = await this.#getToken(webhookUrl, signal);
    const status = await send(token);
    if (status !== 401) return status;
    if (this.#token?.value === token) this.#token = undefined;
    return send(await this.#getToken(webhookUrl, signal));
  }

  #nextWebhookUrl(): string {
    const urls = this.#options.webhookUrls;
    const url = urls[this.#nextReplica % urls.length] as string;
    this.#nextReplica += 1;
    return url;
  }

  #requestOptions(signal: AbortSignal) {
    const { timeoutMs } = this.#options;
    return {
      dispatcher: this.#agent,
      signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    };
  }

  /** The webhook's access token, fetched once for concurrent callers and kept until shortly before expiry. */
  #getToken(webhookUrl: string, signal: AbortSignal): Promise<string> {
    const now = this.#options.clock.now();
    if (this.#token && now < this.#token.refreshAt) return Promise.resolve(this.#token.value);
    if (!this.#tokenRequest) {
      const pending = this.#fetchToken(webhookUrl, signal).finally(() => {
        if (this.#tokenRequest === pending) this.#tokenRequest = undefined;
      });
      this.#tokenRequest = pending;
    }
    return this.#tokenRequest;
  }

  async #fetchToken(webhookUrl: string, signal: AbortSignal): Promise<string> {
    const { clientId, clientSecret, clock } = this.#options;
    const requestedAt = clock.now();
    const response = await request(`${webhookUrl}/authz/d1/v1/oauth2/token`, {
      ...this.#requestOptions(signal),
      method: 'POST',
      headers: {
        authorization: basicAuthorization(clientId, clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new WebhookTokenError(`token endpoint answered ${response.statusCode}`);
    let parsed: ReturnType<typeof tokenResponseSchema.safeParse>;
    try {
      parsed = tokenResponseSchema.safeParse(JSON.parse(text));
    } catch {
      throw new WebhookTokenError('token endpoint answered with a body that is not JSON');
    }
    if (!parsed.success)
      throw new WebhookTokenError('token endpoint answer lacks access_token, token_type or expires_in');
    const lifetimeMs = parsed.data.expires_in * 1000;
    const token = {
      value: parsed.data.access_token,
      refreshAt: requestedAt + lifetimeMs - Math.min(30_000, lifetimeMs / 2),
    };
    this.#token = token;
    return token.value;
  }
}
