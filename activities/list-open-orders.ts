import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { allOf, fieldEquals, fieldIn, running } from '../temporal/visibility-query.js';
import { CARD_ORDER_WORKFLOW } from '../rules/contracts/card-order.js';
import { cardIdKey, issuerIdKey } from '../rules/contracts/search-attributes.js';

/** Where the reconciliation finds open orders: the worker's Temporal client, its task queue and the page size. */
export interface OpenOrdersSource {
  temporal: Client;
  taskQueue: string;
  pageSize: number;
}

/** An open order as visibility lists it. */
export interface OpenOrder {
  workflowId: string;
  issuerId: string | undefined;
  cardId: string | undefined;
}

export interface OpenOrdersPage {
  orders: OpenOrder[];
  /** Visibility's token for the next page, base64 (a string crosses the payload converter as is); none after the last. */
  nextPageToken: string | undefined;
}

/** The failure type of a reconciliation activity on a worker built without its Temporal client. */
export const RECONCILE_UNAVAILABLE = 'ERR_RECONCILE_UNAVAILABLE';

function keyword(fields: Record<string, Payload> | null | undefined, name: string): string | undefined {
  const payload = fields?.[name];
  if (!payload) return undefined;
  const value = defaultPayloadConverter.fromPayload<unknown>(payload);
  return typeof value === 'string' ? value : undefined;
}

/**
 * One page of the running `cardOrderV2` orders of this task queue, by Temporal visibility (eventually consistent:
 * an order that closed a moment ago may still be listed). Every value in the query is quoted as a literal.
 */
export function createListOpenOrders(source: OpenOrdersSource | undefined) {
  return async function listOpenOrders(input: { pageToken?: string | undefined }): Promise<OpenOrdersPage> {
    if (!source) {
      throw ApplicationFailure.nonRetryable(
        'This worker has no Temporal client for the reconciliation',
        RECONCILE_UNAVAILABLE,
      );
    }
    const { temporal, taskQueue, pageSize } = source;
    const query = allOf(fieldIn('WorkflowType', [CARD_ORDER_WORKFLOW]), running, fieldEquals('TaskQueue', taskQueue));
    const response = await temporal.workflowService.listWorkflowExecutions({
      namespace: temporal.options.namespace,
      query,
      pageSize,
      ...(input.pageToken && { nextPageToken: Buffer.from(input.pageToken, 'base64') }),
    });
    const orders = (response.executions ?? []).flatMap((execution) => {
      const workflowId = execution.execution?.workflowId;
      if (!workflowId) return [];
      const fields = execution.searchAttributes?.indexedFields;
      return [{ workflowId, issuerId: keyword(fields, issuerIdKey.name), cardId: keyword(fields, cardIdKey.name) }];
    });
    const token = response.nextPageToken;
    return {
      orders,
      nextPageToken: token && token.length > 0 ? Buffer.from(token).toString('base64') : undefined,
    };
  };
}
