/**
 * The `card-orders` command line: place, follow, list and cancel card orders through the client library.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { isCardOrderError, OrderValidationError } from '../common/errors.js';
import type { CardOrderStatus, OrderState } from '../workflows/definitions.js';
import { CardOrdersClient } from './card-orders-client.js';

export const usage = `Usage: card-orders <command> [options]

Commands:
  order --file <order.json>       place an order (prints its workflow id and status)
  status <issuerRequestId>        show an order's state
  list [--status <S>] [--limit N] list orders, newest first
  cancel <issuerRequestId>        ask D1 to cancel an order; prints D1's verdict
  watch <issuerRequestId>         follow an order until it ends

Options:
  --issuer <issuerId>   the issuer (default: D1_ISSUER_ID)
  --json                machine-readable output
  -h, --help            this help

Exit codes: 0 done, 1 failed (the order failed, or a cancel was refused), 2 invalid input.`;

const finalStatuses: readonly CardOrderStatus[] = ['SHIPPED', 'CANCELLED', 'COMPENSATED', 'FAILED'];

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  /** How often `watch` re-reads the order, in ms. */
  watchIntervalMs?: number;
}

function describeState(state: OrderState): string {
  const stage = state.stage ? ` stage=${state.stage}` : '';
  const failure = state.failure ? ` error=${state.failure.errorCode}` : '';
  const shipment = state.shipment?.trackingNumber
    ? ` tracking=${state.shipment.carrier ?? ''}:${state.shipment.trackingNumber}`
    : '';
  return `${state.issuerRequestId} card=${state.cardId} status=${state.status}${stage}${failure}${shipment}`;
}

/** Runs one command; returns the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        file: { type: 'string' },
        status: { type: 'string' },
        limit: { type: 'string' },
        issuer: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, id] = positionals;
  if (values.help || !command) {
    if (values.help) {
      io.out(usage);
      return 0;
    }
    io.err(usage);
    return 2;
  }
  const print = (human: string, machine: unknown) => io.out(values.json ? JSON.stringify(machine) : human);
  const needId = () => {
    if (!id)
      throw new OrderValidationError([
        { field: 'issuerRequestId', reason: `is required: card-orders ${command} <issuerRequestId>` },
      ]);
    return id;
  };

  let client: CardOrdersClient | undefined;
  try {
    const config = loadConfig(io.env);
    const issuerId = values.issuer ?? config.d1.issuerId;
    const connect = async () => (client = await CardOrdersClient.connect({ config }));
    switch (command) {
      case 'order': {
        if (!values.file)
          throw new OrderValidationError([
            { field: '--file', reason: 'is required: card-orders order --file order.json' },
          ]);
        let request: unknown;
        try {
          request = JSON.parse(await readFile(values.file, 'utf8'));
        } catch (err) {
          throw new OrderValidationError([
            { field: '--file', reason: `cannot read JSON from ${values.file}: ${(err as Error).message}` },
          ]);
        }
        const placed = await (await connect()).orderCard(request as Parameters<CardOrdersClient['orderCard']>[0]);
        print(`${placed.workflowId} ${placed.placement}`, placed);
        return 0;
      }
      case 'status': {
        const state = await (await connect()).getOrder(needId(), issuerId);
        print(describeState(state), state);
        return 0;
      }
      case 'list': {
        const limit = values.limit === undefined ? undefined : Number(values.limit);
        if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
          throw new OrderValidationError([{ field: '--limit', reason: 'must be a positive whole number' }]);
        }
        const orders = await (
          await connect()
        ).listOrders({
          ...(values.status && { status: values.status as CardOrderStatus }),
          issuerId,
          ...(limit && { limit }),
        });
        if (values.json) io.out(JSON.stringify(orders));
        else
          for (const o of orders)
            io.out(`${o.issuerRequestId ?? o.workflowId} card=${o.cardId} status=${o.status} stage=${o.stage}`);
        return 0;
      }
      case 'cancel': {
        const result = await (await connect()).cancelOrder(needId(), issuerId);
        print(`${result.outcome}${result.reason ? ` (${result.reason})` : ''}`, result);
        return result.outcome === 'CANCELLED' ? 0 : 1;
      }
      case 'watch': {
        const orderId = needId();
        const orders = await connect();
        let last = '';
        for (;;) {
          const state = await orders.getOrder(orderId, issuerId);
          const line = describeState(state);
          if (line !== last) print(line, state);
          last = line;
          if (finalStatuses.includes(state.status))
            return state.status === 'SHIPPED' || state.status === 'CANCELLED' ? 0 : 1;
          await delay(io.watchIntervalMs ?? 1000);
        }
      }
      default:
        io.err(`Unknown command ${command}\n\n${usage}`);
        return 2;
    }
  } catch (err) {
    if (isCardOrderError(err) && (err.code === 'ERR_ORDER_INVALID' || err.code === 'ERR_CONFIG_INVALID')) {
      const { issues } = err as unknown as { issues: unknown[] };
      io.err(
        values.json ? JSON.stringify({ code: err.code, message: err.message, issues }) : `${err.code}: ${err.message}`,
      );
      return 2;
    }
    const code = isCardOrderError(err) ? err.code : (err as Error).name;
    io.err(
      values.json ? JSON.stringify({ code, message: (err as Error).message }) : `${code}: ${(err as Error).message}`,
    );
    return 1;
  } finally {
    await client?.close();
  }
}
