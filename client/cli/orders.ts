/**
 * The order commands: `order`, `status`, `list`, `cancel`, `watch`, the Pull & change commands (`accelerate`,
 * `redirect`, `accelerate-and-redirect`) and `reship`.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CliUsageError } from '../../common/errors.js';
import type { Address } from '../../d1/schemas.js';
import {
  cardOrderStatuses,
  finalCardOrderStatuses,
  type CardOrderStatus,
  type ChangeType,
} from '../../rules/contracts/card-order.js';
import type { CardOrdersClient, OrderReading, OrderRequestOptions } from '../card-orders-client.js';
import { parseLimit, readJsonFile } from './args.js';
import type { Command, CommandContext } from './context.js';

const changeCommands = {
  accelerate: 'ACCELERATE',
  redirect: 'REDIRECT',
  'accelerate-and-redirect': 'ACCELERATE_AND_REDIRECT',
} as const satisfies Record<string, ChangeType>;
/** Execution statuses that end a run without an order outcome; `describeState` shows them. */
const abnormalEnds: readonly string[] = ['CANCELLED', 'TERMINATED', 'TIMED_OUT'];
/** Execution statuses of an order whose run is still open. */
const openExecutions: readonly string[] = ['RUNNING', 'CONTINUED_AS_NEW', 'PAUSED'];

function describeState(state: OrderReading): string {
  const stage = state.stage ? ` stage=${state.stage}` : '';
  const failure = state.failure ? ` error=${state.failure.errorCode}` : '';
  const shipment = state.shipment?.trackingNumber
    ? ` tracking=${state.shipment.carrier ?? ''}:${state.shipment.trackingNumber}`
    : '';
  const execution = abnormalEnds.includes(state.execution) ? ` execution=${state.execution}` : '';
  return `${state.issuerRequestId} card=${state.cardId} status=${state.status}${stage}${failure}${shipment}${execution}`;
}

/** `watch`'s exit code: 0 for an order that shipped or was cancelled (and whose run was not terminated), else 1. */
function watchExitCode(state: OrderReading): number {
  const ok = (state.status === 'SHIPPED' || state.status === 'CANCELLED') && state.execution !== 'TERMINATED';
  return ok ? 0 : 1;
}

/** The `<issuerRequestId>` every order command but `order` and `list` names its order by. */
function issuerRequestIdArg({ args, command }: CommandContext): string {
  const [id] = args;
  if (!id) throw new CliUsageError('<issuerRequestId>', `is required: card-orders ${command} <issuerRequestId>`);
  return id;
}

/** A request's options: the issuer, and `--request-id` when given (a retry with it is the same request). */
function requestOptions({ issuerId, values }: CommandContext): OrderRequestOptions {
  return { issuerId, ...(values['request-id'] !== undefined && { requestId: values['request-id'] }) };
}

const order: Command = async ({ values, connect, print }) => {
  if (!values.file) throw new CliUsageError('--file', 'is required: card-orders order --file order.json');
  const request = await readJsonFile('--file', values.file);
  const placed = await (await connect()).orderCard(request as Parameters<CardOrdersClient['orderCard']>[0]);
  print(`${placed.workflowId} ${placed.placement}`, placed);
  return 0;
};

const status: Command = async (ctx) => {
  const state = await (await ctx.connect()).getOrder(issuerRequestIdArg(ctx), ctx.issuerId);
  ctx.print(describeState(state), state);
  return 0;
};

const list: Command = async ({ values, issuerId, io, connect }) => {
  const limit = parseLimit(values.limit);
  const status = values.status;
  if (status !== undefined && !(cardOrderStatuses as readonly string[]).includes(status)) {
    throw new CliUsageError('--status', `must be one of ${cardOrderStatuses.join(', ')}`);
  }
  const orders = await (
    await connect()
  ).listOrders({
    ...(status !== undefined && { status: status as CardOrderStatus }),
    ...(values.replaces !== undefined && { replacesCardId: values.replaces }),
    issuerId,
    ...(limit !== undefined && { limit }),
  });
  if (values.json) io.out(JSON.stringify(orders));
  else
    for (const o of orders)
      io.out(`${o.issuerRequestId ?? o.workflowId} card=${o.cardId} status=${o.status} stage=${o.stage}`);
  return 0;
};

const cancel: Command = async (ctx) => {
  const orderId = issuerRequestIdArg(ctx);
  const result = await (await ctx.connect()).cancelOrder(orderId, requestOptions(ctx));
  ctx.print(`${result.outcome}${result.reason ? ` (${result.reason})` : ''}`, result);
  return result.outcome === 'CANCELLED' ? 0 : 1;
};

const watch: Command = async (ctx) => {
  const { io, values, issuerId, print } = ctx;
  const orderId = issuerRequestIdArg(ctx);
  const orders = await ctx.connect();
  let last = '';
  for (;;) {
    const state = await orders.getOrder(orderId, issuerId);
    const line = describeState(state);
    if (line !== last) print(line, state);
    last = line;
    // A closed run ends the watch whatever its last status (a terminated order stays IN_PRODUCTION).
    if (finalCardOrderStatuses.includes(state.status) || !openExecutions.includes(state.execution)) {
      if (!openExecutions.includes(state.execution)) return watchExitCode(state);
      // A shipped order lives on for its delivery window (carrier updates, a return): say until when.
      const windowEndsAt = state.status === 'SHIPPED' ? state.delivery?.windowEndsAt : undefined;
      if (windowEndsAt && !values.json) io.out(`delivery window open until ${windowEndsAt}`);
      if (!values['until-closed']) return watchExitCode(state);
      // Weeks, maybe: the server tells when the run closes, no polling.
      const closed = await orders.waitForClose(orderId, issuerId);
      const execution = abnormalEnds.includes(closed.execution) ? '' : ` execution=${closed.execution}`;
      print(`${describeState(closed)}${execution}`, closed);
      return watchExitCode(closed);
    }
    await delay(io.watchIntervalMs ?? 1000);
  }
};

/** `accelerate`, `redirect` and `accelerate-and-redirect`: one change each, the address from `--address-file`. */
const change: Command = async (ctx) => {
  const { command, values } = ctx;
  const orderId = issuerRequestIdArg(ctx);
  const type = changeCommands[command as keyof typeof changeCommands];
  const file = values['address-file'];
  if (type !== 'ACCELERATE' && !file) {
    throw new CliUsageError(
      '--address-file',
      `is required: card-orders ${command} <issuerRequestId> --address-file address.json`,
    );
  }
  if (type === 'ACCELERATE' && file) throw new CliUsageError('--address-file', 'an accelerate keeps the address');
  const newDeliveryAddress = file ? ((await readJsonFile('--address-file', file)) as Address) : undefined;
  const result = await (await ctx.connect()).changeOrder(orderId, { type, newDeliveryAddress }, requestOptions(ctx));
  ctx.print(`${result.outcome}${result.reason ? ` (${result.reason})` : ''}`, result);
  return result.outcome === 'ACCEPTED' ? 0 : 1;
};

const reship: Command = async (ctx) => {
  const orderId = issuerRequestIdArg(ctx);
  const file = ctx.values['address-file'];
  if (!file) {
    throw new CliUsageError(
      '--address-file',
      'is required: card-orders reship <issuerRequestId> --address-file address.json',
    );
  }
  const newDeliveryAddress = (await readJsonFile('--address-file', file)) as Address;
  const result = await (await ctx.connect()).reshipOrder(orderId, newDeliveryAddress, requestOptions(ctx));
  const detail = result.issuerRequestId ?? result.reason;
  ctx.print(`${result.outcome}${detail ? ` (${detail})` : ''}`, result);
  return result.outcome === 'RESHIPPED' ? 0 : 1;
};

export const orderCommands: Readonly<Record<string, Command>> = {
  order,
  status,
  list,
  cancel,
  watch,
  reship,
  ...Object.fromEntries(Object.keys(changeCommands).map((name) => [name, change])),
};
