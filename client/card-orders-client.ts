/**
 * The library issuer backends use to place and follow card orders. It validates an order, encrypts the card data
 * into D1's JWE before anything reaches Temporal, starts the order's workflow idempotently, and reads, lists,
 * cancels and waits for orders, over one connection with the payload codec.
 *
 * The class is the one door callers use; each task's code is its own module, handed the client's shared state
 * (`client-context.ts`): placing and reading orders (`orders.ts`, `list-orders.ts`), requests to a running order
 * (`order-requests.ts`), campaigns (`campaign-orders.ts`, `campaign-start.ts`, `campaign-control.ts`,
 * `campaigns.ts`) and operator tools (`operator.ts`).
 *
 * @module
 */
import { Client, Connection } from '@temporalio/client';
import { createDataConverter } from '../codec/data-converter.js';
import type { Config } from '../config/config.js';
import { PENDING_TASK_WAIT_MS, QUERY_WAIT_MS } from '../temporal/query-through-failover.js';
import { temporalConnectionOptions } from '../temporal/connection.js';
import { loadEncryptionKey } from '../d1/keys.js';
import type { Address } from '../d1/schemas.js';
import { OrderFingerprintKey } from '../orders/fingerprint.js';
import { loadProgramCatalog } from '../orders/program-catalog.js';
import type { CardOrderRequest } from '../orders/schema.js';
import { openCampaignStore } from '../campaigns/store.js';
import type { CampaignManifest, CampaignPageStore } from '../campaigns/page-store.js';
import type {
  CancelResult,
  CardOrderResult,
  CardOrderStatus,
  ChangeRequest,
  ChangeResult,
  ReshipResult,
} from '../rules/contracts/card-order.js';
import type { ClientContext } from './client-context.js';
import { campaignContext, ingestCampaign, orderFailureReader } from './campaign-orders.js';
import { controlCampaign } from './campaign-control.js';
import { startCampaign } from './campaign-start.js';
import {
  campaignFailures,
  getCampaign,
  type CampaignControlResult,
  type CampaignFailure,
  type CampaignStartOptions,
  type CampaignStatus,
} from './campaigns.js';
import type { FailedIssuerEvents, IssuerEventsRedelivery } from './issuer-events-dead-letter.js';
import { listOrders, type OrderSummary } from './list-orders.js';
import * as operator from './operator.js';
import { cancelOrder, changeOrder, reshipOrder, type OrderRequestOptions } from './order-requests.js';
import { getOrder, orderCard, waitForClose, waitForOrder, type OrderReading, type PlacedOrder } from './orders.js';
import type { UnmatchedRecord, UnmatchedRedelivery } from './unmatched-notifications.js';

// The types callers know from here, wherever they are defined now.
export type { OrderSummary } from './list-orders.js';
export type { OrderRequestOptions } from './order-requests.js';
export type { OrderReading, OrderStateSource, PlacedOrder } from './orders.js';

export interface CardOrdersClientOptions {
  config: Config;
  /** An open connection to share; the client makes (and closes) its own when absent. */
  connection?: Connection;
  /**
   * How long `getOrder` waits for a running order's waiting workflow task to be taken before it answers from the
   * order's search attributes instead of a query (see `quietForQuery`). @default 10 s
   */
  pendingTaskWaitMs?: number;
  /**
   * How long `getOrder` waits for a worker to answer its query of a running order before it answers from the
   * order's search attributes (see `queryWithin`). @default 3 s
   */
  queryWaitMs?: number;
}

export class CardOrdersClient {
  private store: CampaignPageStore | undefined;
  readonly temporal: Client;

  private constructor(
    private readonly ctx: ClientContext,
    private readonly ownsConnection: boolean,
  ) {
    this.temporal = ctx.temporal;
  }

  /** Connects to Temporal with the codec and loads D1's encryption key and the program catalog. */
  static async connect({
    config,
    connection,
    pendingTaskWaitMs,
    queryWaitMs,
  }: CardOrdersClientOptions): Promise<CardOrdersClient> {
    const [encryptionKey, catalog, fingerprintKey, dataConverter] = await Promise.all([
      loadEncryptionKey(config.d1.encryptionKey),
      loadProgramCatalog(config.programCatalogFile),
      OrderFingerprintKey.load(config.orderFingerprintKey),
      createDataConverter(config),
    ]);
    const conn = connection ?? (await Connection.connect(temporalConnectionOptions(config.temporal)));
    const temporal = new Client({ connection: conn, namespace: config.temporal.namespace, dataConverter });
    const ctx: ClientContext = {
      temporal,
      config,
      encryptionKey,
      catalog,
      fingerprintKey,
      codecs: dataConverter.payloadCodecs ?? [],
      pendingTaskWaitMs: pendingTaskWaitMs ?? PENDING_TASK_WAIT_MS,
      queryWaitMs: queryWaitMs ?? QUERY_WAIT_MS,
    };
    return new CardOrdersClient(ctx, !connection);
  }

  // Orders: see `orders.ts` and `list-orders.ts`.

  /** Places an order, or finds it placed already; see {@link orderCard} in `orders.ts`. */
  orderCard(request: CardOrderRequest): Promise<PlacedOrder> {
    return orderCard(this.ctx, request);
  }

  /** The order's state, from its workflow however it stands; see {@link getOrder} in `orders.ts`. */
  getOrder(issuerRequestId: string, issuerId = this.ctx.config.d1.issuerId): Promise<OrderReading> {
    return getOrder(this.ctx, issuerRequestId, issuerId);
  }

  /** One issuer's orders, newest first, by status or replaced card; see {@link listOrders} in `list-orders.ts`. */
  listOrders(
    filter: { status?: CardOrderStatus; issuerId?: string; replacesCardId?: string; limit?: number } = {},
  ): Promise<OrderSummary[]> {
    return listOrders(this.ctx, filter);
  }

  /** Waits until the order ends, throwing its failure; see {@link waitForOrder} in `orders.ts`. */
  waitForOrder(issuerRequestId: string, issuerId = this.ctx.config.d1.issuerId): Promise<CardOrderResult> {
    return waitForOrder(this.ctx, issuerRequestId, issuerId);
  }

  /** Waits until the order's run closes, and reads it; see {@link waitForClose} in `orders.ts`. */
  waitForClose(issuerRequestId: string, issuerId = this.ctx.config.d1.issuerId): Promise<OrderReading> {
    return waitForClose(this.ctx, issuerRequestId, issuerId);
  }

  // Requests to a running order: see `order-requests.ts`.

  /** Asks D1 to cancel the order; see {@link cancelOrder} in `order-requests.ts`. */
  cancelOrder(issuerRequestId: string, options: OrderRequestOptions = {}): Promise<CancelResult> {
    return cancelOrder(this.ctx, issuerRequestId, options);
  }

  /** Pull & change: accelerate, redirect, or both; see {@link changeOrder} in `order-requests.ts`. */
  changeOrder(
    issuerRequestId: string,
    request: ChangeRequest,
    options: OrderRequestOptions = {},
  ): Promise<ChangeResult> {
    return changeOrder(this.ctx, issuerRequestId, request, options);
  }

  /** Speeds the order up (produce at once, express carrier); see {@link changeOrder}. */
  accelerateOrder(issuerRequestId: string, options?: OrderRequestOptions): Promise<ChangeResult> {
    return this.changeOrder(issuerRequestId, { type: 'ACCELERATE' }, options);
  }

  /** Sends the card to a new address; see {@link changeOrder}. */
  redirectOrder(
    issuerRequestId: string,
    newDeliveryAddress: Address,
    options?: OrderRequestOptions,
  ): Promise<ChangeResult> {
    return this.changeOrder(issuerRequestId, { type: 'REDIRECT', newDeliveryAddress }, options);
  }

  /** Both at once; see {@link changeOrder}. */
  accelerateAndRedirectOrder(
    issuerRequestId: string,
    newDeliveryAddress: Address,
    options?: OrderRequestOptions,
  ): Promise<ChangeResult> {
    return this.changeOrder(issuerRequestId, { type: 'ACCELERATE_AND_REDIRECT', newDeliveryAddress }, options);
  }

  /** Ships a returned card again, to a corrected address; see {@link reshipOrder} in `order-requests.ts`. */
  reshipOrder(
    issuerRequestId: string,
    newDeliveryAddress: Address,
    options: OrderRequestOptions = {},
  ): Promise<ReshipResult> {
    return reshipOrder(this.ctx, issuerRequestId, newDeliveryAddress, options);
  }

  // Operator tools: see `operator.ts`.

  /** Starts a reconciliation with D1 now and returns its workflow id; see {@link operator.reconcileNow}. */
  reconcileNow(): Promise<string> {
    return operator.reconcileNow(this.ctx);
  }

  /** The issuer's open records of unmatched notifications; see {@link operator.listUnmatched}. */
  listUnmatched(options: { issuerId?: string; limit?: number } = {}): Promise<UnmatchedRecord[]> {
    return operator.listUnmatched(this.ctx, options);
  }

  /** Hands a card's unmatched notifications to its order; see {@link operator.redeliverUnmatched}. */
  redeliverUnmatched(cardId: string, issuerId = this.ctx.config.d1.issuerId): Promise<UnmatchedRedelivery> {
    return operator.redeliverUnmatched(this.ctx, cardId, issuerId);
  }

  /** Orders whose issuer events were not delivered; see {@link operator.listFailedIssuerEvents}. */
  listFailedIssuerEvents(
    filter: { issuerId?: string; cardId?: string; limit?: number } = {},
  ): Promise<FailedIssuerEvents[]> {
    return operator.listFailedIssuerEvents(this.ctx, filter);
  }

  /** Posts an order's undelivered issuer events again; see {@link operator.redeliverIssuerEvents}. */
  redeliverIssuerEvents(orderWorkflowId: string): Promise<IssuerEventsRedelivery> {
    return operator.redeliverIssuerEvents(this.ctx, orderWorkflowId);
  }

  // Campaigns: see `campaign-orders.ts`, `campaign-start.ts`, `campaign-control.ts` and `campaigns.ts`.

  /** Checks a campaign file and stores its valid cards in pages; see {@link ingestCampaign} in `campaign-orders.ts`. */
  ingestCampaign(options: CampaignStartOptions): Promise<CampaignManifest> {
    return ingestCampaign(this.ctx, this.campaignStore(), options);
  }

  /** Stores a campaign file and starts its campaign; see {@link startCampaign} in `campaign-start.ts`. */
  startCampaign(options: CampaignStartOptions): Promise<CampaignStatus> {
    return startCampaign(this.campaignContext(), options);
  }

  /** Where the campaign stands, its cards counted by status; see {@link getCampaign} in `campaigns.ts`. */
  getCampaign(campaignId: string, issuerId?: string): Promise<CampaignStatus> {
    return getCampaign(this.campaignContext(), campaignId, issuerId);
  }

  /** Stops new submissions within seconds (the page under way is interrupted and sent again on resume). */
  pauseCampaign(campaignId: string, issuerId?: string): Promise<CampaignControlResult> {
    return controlCampaign(this.campaignContext(), campaignId, { kind: 'pause' }, issuerId);
  }

  resumeCampaign(campaignId: string, issuerId?: string): Promise<CampaignControlResult> {
    return controlCampaign(this.campaignContext(), campaignId, { kind: 'resume' }, issuerId);
  }

  /** Stops submitting; with `pull`, asks D1 to cancel the campaign's cards not yet shipped. */
  cancelCampaign(campaignId: string, options: { pull?: boolean; issuerId?: string } = {}) {
    const action = { kind: 'cancel', pull: options.pull ?? false } as const;
    return controlCampaign(this.campaignContext(), campaignId, action, options.issuerId);
  }

  /** Every card of the campaign that failed, with its reason. */
  campaignFailures(campaignId: string, issuerId = this.ctx.config.d1.issuerId): Promise<CampaignFailure[]> {
    return campaignFailures(this.campaignContext(), campaignId, orderFailureReader(this.ctx, issuerId), issuerId);
  }

  /** The store of campaign pages (CAMPAIGN_STORE), with this client's codec keys; opened once, closed with the client. */
  campaignStore(): CampaignPageStore {
    this.store ??= openCampaignStore(this.ctx.config.campaigns, this.ctx.codecs);
    return this.store;
  }

  /** Closes the connection, when the client opened it, and the campaign store. */
  async close(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    await store?.close();
    if (this.ownsConnection) await this.temporal.connection.close();
  }

  private campaignContext() {
    return campaignContext(this.ctx, this.campaignStore());
  }
}
