/**
 * Hands a batch of D1 operations to the workflows they belong to, as `d1Notification` signals: one signal per
 * workflow and batch, carrying that workflow's operations in batch order, with different workflows signalled in
 * parallel (bounded). Where an operation goes:
 *
 * 1. the order its `issuerRequestId` names, re-orders (`{original}--r{n}`) included: they belong to the original's
 *    workflow, so they never cost a visibility query;
 * 2. without an `issuerRequestId` (or when no workflow has that id), the running order of its card, found with one
 *    visibility query per card over every card-order workflow type;
 * 3. an order that exists but has ended (shipped, cancelled, ...) gets nothing: the operation is late, counted and
 *    logged, and acknowledged;
 * 4. a card with no order of ours at all: the card's record of unmatched notifications (signal-with-start, so
 *    nothing is dropped).
 *
 * Each order gets at most one signal per delivery of a batch. An operation naming an order that does not exist goes
 * to its card's running order; where that order has operations of its own in the batch (the card's operations go
 * to more than one order), the named orders are described first, so that it still gets them all in one signal. (Only
 * an operation naming an absent order for a card whose running order the batch reaches through operations of other
 * cards alone, which D1 would not send, can still cost that order a second signal.)
 *
 * When Temporal does not take a signal, the other orders of the same step are signalled all the same, and then the
 * batch fails, so the webhook answers 503 and D1 delivers the whole batch again. Each order's signal carries a
 * request id made of the workflow id and its operations ({@link signalRequestId}); the server keeps the request ids
 * a run was signalled under and takes a second signal under one as done, without a history event. So a batch
 * delivered again costs the orders already signalled one cheap call each and nothing in their histories, whichever
 * webhook replica gets it (a run that continued as new in between starts with no request ids: it gets the signal
 * again, and the order drops the reports it has).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { isGrpcServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { forEachBounded } from '../common/bounded-concurrency.js';
import { canonicalJson } from '../common/canonical-json.js';
import { cardIdSchema, issuerIdSchema } from '../d1/schemas.js';
import type { Operation } from '../d1/report-schemas.js';
import { originalRequestId } from '../orders/reorder-id.js';
import { cardOrderWorkflowId } from '../orders/schema.js';
import { CARD_ORDER_WORKFLOW_TYPES, d1NotificationSignal } from '../rules/contracts/card-order.js';
import {
  UNMATCHED_NOTIFICATIONS_WORKFLOW,
  type UnmatchedNotificationsInput,
} from '../rules/contracts/unmatched-notifications.js';
import { cardIdKey, issuerIdKey } from '../rules/contracts/search-attributes.js';
import { allOf, fieldDiffers, fieldEquals, fieldIn } from './visibility-query.js';

/** Where an operation went: see the module description. */
export type Delivery = 'order' | 'order_by_card' | 'late' | 'unmatched';

/** What became of a batch's operations. */
export interface BatchDelivery {
  /** Operations by where they went; they add up to the batch's size. */
  counts: Record<Delivery, number>;
  /** Signals sent: one per workflow reached. */
  signals: number;
  /** The ended orders that got late operations (workflow ids: identifiers only, no card data). */
  lateOrders: string[];
}

/** Workflows signalled at once by default. */
export const DEFAULT_SIGNAL_CONCURRENCY = 32;

/** gRPC's NOT_FOUND: the workflow has no running run (it closed, or was never there). */
const GRPC_NOT_FOUND = 5;

/**
 * The request id of one order's signal: the same operations (whatever the order of their keys) for the same
 * workflow give the same id, so a batch D1 delivers again is a signal the server already has (see the module
 * description). A digest, because the id is kept in the order's history unencrypted (the codec encrypts payloads
 * only) and operations may carry personal data; it covers every operation whole, D1's operationId included, so no
 * one field can be guessed back from it.
 */
export function signalRequestId(workflowId: string, operations: readonly Operation[]): string {
  const digest = createHash('sha256').update(workflowId).update('\n').update(canonicalJson(operations));
  return `d1-notification-${digest.digest('base64url')}`;
}

/** The workflow id that keeps unmatched notifications for one card. */
export function unmatchedWorkflowId(issuerId: string, cardId: string): string {
  return `card-notifications:${issuerId}:${cardId}`;
}

/**
 * The visibility query for the card-order workflows (every type, {@link CARD_ORDER_WORKFLOW_TYPES}) of one card,
 * running or ended. The ids are checked against D1's id formats first (letters, digits, `_` and `-`), so no id can
 * close the string and widen the query to other cards or issuers; they are quoted as literals all the same.
 *
 * @throws {RangeError} when an id is not in D1's format (the value is not echoed).
 */
export function cardOrdersQuery(issuerId: string, cardId: string, execution: 'running' | 'ended'): string {
  if (!issuerIdSchema.safeParse(issuerId).success) throw new RangeError('issuerId is not a D1 issuer id');
  if (!cardIdSchema.safeParse(cardId).success) throw new RangeError('cardId is not a D1 card id');
  return allOf(
    fieldIn('WorkflowType', CARD_ORDER_WORKFLOW_TYPES),
    execution === 'running' ? fieldEquals('ExecutionStatus', 'Running') : fieldDiffers('ExecutionStatus', 'Running'),
    fieldEquals(issuerIdKey, issuerId),
    fieldEquals(cardIdKey, cardId),
  );
}

/**
 * How each step runs its items, at most `concurrency` at once: a failure does not stop the others, and the first is
 * rethrown once all are done. Every order of the step gets its signal in this delivery, and the delivery after a 503
 * finds them signalled (they share the caller's deadline, so a Temporal that is down fails them all quickly once it
 * has passed).
 */
const everyItem = { afterFailure: 'continue' } as const;

interface Item {
  /** Its position in the batch: operations reach a workflow in batch order. */
  index: number;
  operation: Operation;
}

function groupBy(items: Iterable<Item>, key: (item: Item) => string | undefined): Map<string, Item[]> {
  const groups = new Map<string, Item[]>();
  for (const item of items) {
    const name = key(item);
    if (name === undefined) continue;
    const group = groups.get(name);
    if (group) group.push(item);
    else groups.set(name, [item]);
  }
  for (const group of groups.values()) group.sort((a, b) => a.index - b.index);
  return groups;
}

const payload = (group: readonly Item[]) => ({ operations: group.map((item) => item.operation) });

export interface NotificationRouterOptions {
  /** How long a card's unmatched record is kept after its last notification. */
  unmatchedRetentionMs: number;
  /** Workflows signalled (or cards looked up) at once. @default {@link DEFAULT_SIGNAL_CONCURRENCY} */
  concurrency?: number;
  metrics?: RouterMetrics | undefined;
}

/** The counters the router moves (the webhook's Prometheus metrics fit it; other callers pass none). */
export interface RouterMetrics {
  operations: { inc(labels: { outcome: string }, value?: number): void };
  signals: { inc(): void };
  orderLookups: { inc(): void };
}

export class NotificationRouter {
  private readonly concurrency: number;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly options: NotificationRouterOptions,
  ) {
    this.concurrency = options.concurrency ?? DEFAULT_SIGNAL_CONCURRENCY;
  }

  /**
   * Delivers a batch of valid operations; resolves once Temporal took all of them. Every Temporal call runs under
   * the caller's deadline (`client.withDeadline`).
   */
  async deliverBatch(issuerId: string, operations: readonly Operation[]): Promise<BatchDelivery> {
    const result: BatchDelivery = {
      counts: { order: 0, order_by_card: 0, late: 0, unmatched: 0 },
      signals: 0,
      lateOrders: [],
    };
    const items: Item[] = operations.map((operation, index) => ({ index, operation }));
    const count = (delivery: Delivery, n: number) => {
      result.counts[delivery] += n;
      this.options.metrics?.operations.inc({ outcome: delivery }, n);
    };
    const late = (workflowId: string, n: number) => {
      count('late', n);
      if (!result.lateOrders.includes(workflowId)) result.lateOrders.push(workflowId);
    };

    // The running order of each card whose operations name no order: one query per card, before any signal, so
    // that an order reached both ways still gets one signal.
    const runningOrders = new Map<string, string | undefined>();
    const lookUp = (cardIds: Iterable<string>) =>
      forEachBounded(
        [...new Set(cardIds)].filter((cardId) => !runningOrders.has(cardId)),
        this.concurrency,
        async (cardId) => void runningOrders.set(cardId, await this.orderOf(issuerId, cardId, 'running')),
        everyItem,
      );
    await lookUp(items.filter((item) => !item.operation.issuerRequestId).map((item) => item.operation.cardId));

    /** The order an operation names, re-orders to their original's. */
    const namedOrder = (item: Item) => {
      const { issuerRequestId } = item.operation;
      return issuerRequestId ? cardOrderWorkflowId(issuerId, originalRequestId(issuerRequestId)) : undefined;
    };
    /** Named orders known not to exist: their operations go to the card's running order. */
    const absentOrders = new Set<string>();
    const target = (item: Item) => {
      const name = namedOrder(item);
      return name && !absentOrders.has(name) ? name : runningOrders.get(item.operation.cardId);
    };

    // An absent named order's operations would reach their card's running order in a second signal, after that
    // order's own: where a card's operations go to more than one order, describe its named orders first (no
    // history event) and route the absent ones' operations with the rest.
    const doubtful = new Set<string>();
    for (const group of groupBy(items, (item) => item.operation.cardId).values()) {
      if (new Set(group.map(target).filter((order) => order !== undefined)).size < 2) continue;
      for (const name of group.map(namedOrder)) if (name) doubtful.add(name);
    }
    await forEachBounded(
      [...doubtful],
      this.concurrency,
      async (workflowId) => {
        if (await this.isAbsent(workflowId)) absentOrders.add(workflowId);
      },
      everyItem,
    );
    await lookUp(items.filter((item) => absentOrders.has(namedOrder(item) ?? '')).map((item) => item.operation.cardId));

    /** Operations whose order is not there at all (never started, or long deleted). */
    const orderless: Item[] = [];
    const signalOrders = (groups: Map<string, Item[]>) =>
      forEachBounded(
        [...groups],
        this.concurrency,
        async ([workflowId, group]) => {
          const outcome = await this.signalOrder(workflowId, group);
          result.signals += outcome === 'signalled' ? 1 : 0;
          if (outcome === 'ended') return late(workflowId, group.length);
          if (outcome === 'absent') return void orderless.push(...group);
          const byId = group.filter((item) => item.operation.issuerRequestId).length;
          count('order', byId);
          count('order_by_card', group.length - byId);
        },
        everyItem,
      );
    await signalOrders(groupBy(items, target));

    // An issuerRequestId no workflow has (an order placed elsewhere, a re-order of one): its card's running order.
    const absent = orderless.splice(0);
    const named = absent.filter((item) => item.operation.issuerRequestId);
    await lookUp(named.map((item) => item.operation.cardId));
    await signalOrders(groupBy(named, (item) => runningOrders.get(item.operation.cardId)));

    // No running order. Operations that named none may still belong to an ended order of the card: late.
    const cardless = [
      ...items.filter((item) => !target(item)),
      ...absent.filter((item) => !item.operation.issuerRequestId),
      ...named.filter((item) => !runningOrders.get(item.operation.cardId)),
      ...orderless,
    ];
    const unmatched: Item[] = [];
    await forEachBounded(
      [...groupBy(cardless, (item) => item.operation.cardId)],
      this.concurrency,
      async ([cardId, group]) => {
        const unnamed = group.filter((item) => !item.operation.issuerRequestId);
        const ended = unnamed.length > 0 ? await this.orderOf(issuerId, cardId, 'ended') : undefined;
        if (ended) late(ended, unnamed.length);
        unmatched.push(...(ended ? group.filter((item) => item.operation.issuerRequestId) : group));
      },
      everyItem,
    );

    // A card with no order of ours: its unmatched record keeps them.
    await forEachBounded(
      [...groupBy(unmatched, (item) => item.operation.cardId)],
      this.concurrency,
      async ([cardId, group]) => {
        const input: UnmatchedNotificationsInput = {
          issuerId,
          cardId,
          retentionMs: this.options.unmatchedRetentionMs,
        };
        await this.client.workflow.signalWithStart(UNMATCHED_NOTIFICATIONS_WORKFLOW, {
          workflowId: unmatchedWorkflowId(issuerId, cardId),
          taskQueue: this.taskQueue,
          args: [input],
          signal: d1NotificationSignal,
          signalArgs: [payload(group)],
          // So that operators list an issuer's records (`card-orders unmatched list`) and Web UI filters them.
          typedSearchAttributes: [
            { key: issuerIdKey, value: issuerId },
            { key: cardIdKey, value: cardId },
          ],
        });
        this.options.metrics?.signals.inc();
        result.signals += 1;
        count('unmatched', group.length);
      },
      everyItem,
    );
    return result;
  }

  /**
   * Signals `group` to the order `workflowId`: `signalled`, `ended` when the order exists but is closed (no new
   * workflow is created for it), `absent` when there is no such workflow.
   */
  private async signalOrder(workflowId: string, group: readonly Item[]): Promise<'signalled' | 'ended' | 'absent'> {
    const handle = this.client.workflow.getHandle(workflowId);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.signal(workflowId, payload(group));
        this.options.metrics?.signals.inc();
        return 'signalled';
      } catch (err) {
        if (!(isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND)) throw err;
      }
      // Not running: closed, or never there. Describe tells which (within the namespace's retention).
      let running: boolean;
      try {
        running = (await handle.describe()).status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'absent';
        throw err;
      }
      // Running again (a new run started under the id in between): signal it once more.
      if (!running || attempt > 0) return 'ended';
    }
  }

  /**
   * Sends `d1Notification` under {@link signalRequestId}. The client's `signal` gives every call a random request id,
   * so this is the same call made directly, its input encoded with the client's data converter (the payload codec).
   */
  private async signal(workflowId: string, input: { operations: Operation[] }): Promise<void> {
    const { namespace, identity, loadedDataConverter } = this.client.options;
    let payloads: Payload[] = [loadedDataConverter.payloadConverter.toPayload(input)];
    for (const codec of loadedDataConverter.payloadCodecs) payloads = await codec.encode(payloads);
    await this.client.workflowService.signalWorkflowExecution({
      namespace,
      identity,
      workflowExecution: { workflowId },
      signalName: d1NotificationSignal.name,
      input: { payloads },
      requestId: signalRequestId(workflowId, input.operations),
    });
  }

  /** Whether no workflow has this id at all (within the namespace's retention); a closed one is not absent. */
  private async isAbsent(workflowId: string): Promise<boolean> {
    try {
      await this.client.workflow.getHandle(workflowId).describe();
      return false;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return true;
      throw err;
    }
  }

  /** The newest card-order workflow of a card, running or ended, by visibility; undefined when there is none. */
  private async orderOf(issuerId: string, cardId: string, execution: 'running' | 'ended'): Promise<string | undefined> {
    const query = cardOrdersQuery(issuerId, cardId, execution);
    this.options.metrics?.orderLookups.inc();
    for await (const found of this.client.workflow.list({ query, pageSize: 1 })) return found.workflowId;
    return undefined;
  }
}
