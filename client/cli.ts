/**
 * The `card-orders` command line: place, follow, list and cancel card orders, and run bulk campaigns of them, through
 * the client library.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { durationMs } from '../common/duration.js';
import { loadConfig } from '../config/config.js';
import { CliUsageError, isCardOrderError, QueryUnansweredError, type ReplayInputError } from '../common/errors.js';
import { OrderValidationError, type OrderConflictError } from '../orders/errors.js';
import {
  type CampaignAlreadyRanError,
  type CampaignConflictError,
  type CampaignFileError,
} from '../campaigns/errors.js';
import { idFormatReason } from './id-issues.js';
import type { Address } from '../d1/schemas.js';
import {
  cardOrderStatuses,
  finalCardOrderStatuses,
  type CardOrderStatus,
  type ChangeType,
  type ReconcileOrdersInput,
  type ReconcileSummary,
} from '../workflows/definitions.js';
import { CardOrdersClient, type OrderReading } from './card-orders-client.js';
import type { CampaignControlResult, CampaignStatus } from './campaigns.js';

export const usage = `Usage: card-orders <command> [options]

Commands:
  order --file <order.json>       place an order (prints its workflow id and status)
  status <issuerRequestId>        show an order's state
  list [--status <S>] [--replaces <cardId>] [--limit N]
                                  list the issuer's orders, newest first (--replaces: renewals and
                                  replacements of that card)
  cancel <issuerRequestId> [--request-id <id>]
                                  ask D1 to cancel an order; prints D1's verdict
  watch <issuerRequestId> [--until-closed]
                                  follow an order until it ends; a shipped order still listening for its
                                  carrier ends the watch with the line "delivery window open until <time>"
                                  (--until-closed: wait until the order's run closes, and print its final status)
  accelerate <issuerRequestId>    Pull & change: produce at once, express carrier; prints D1's verdict
  redirect <issuerRequestId> --address-file <address.json>
                                  Pull & change: send the card to a new address; prints D1's verdict
  accelerate-and-redirect <issuerRequestId> --address-file <address.json>
                                  both at once
  reship <issuerRequestId> --address-file <address.json>
                                  re-ship a returned card to a corrected address (programs that re-ship);
                                  prints RESHIPPED and the new D1 order's issuerRequestId
  unmatched list [--limit N]      the issuer's kept notifications for cards with no order of ours
  unmatched redeliver <cardId>    hand a card's kept notifications to its order, once it exists
  events failed [--card <cardId>] [--limit N]
                                  orders whose issuer events were not delivered when they closed (kept for
                                  an operator): per order, how many, the oldest, the last failure
  events redeliver <orderWorkflowId>
                                  post an order's undelivered issuer events again, in order; prints
                                  DELIVERED n, or REMAINING n and the failure (exit code 1)
  reconcile                       reconcile the open orders with D1 now (as RECONCILE_SCHEDULE does); waits
                                  and prints the counts and the orders whose D1 state disagreed
  campaign start --file <cards.csv|cards.jsonl> --id <campaignId> [--skip-invalid]
                                  check and store a campaign file (one line per stored page on stderr), start
                                  the campaign and print its status; the same file under the same id again
                                  changes nothing and prints where it stands (a FAILED campaign starts again;
                                  a COMPLETED or CANCELLED one is refused: CAMPAIGN_ALREADY_RAN)
  campaign status <campaignId>    a campaign's state, totals and its cards counted by the status they settled in
  campaign watch <campaignId> [--every <duration>]
                                  follow a campaign with a progress bar until it ends (COMPLETED, CANCELLED,
                                  FAILED), looking every 5s
  campaign pause|resume <campaignId>
                                  stop or restart the campaign's submissions; prints its state
  campaign cancel <campaignId> [--pull] [--wait]
                                  stop the campaign (--pull: and ask D1 to cancel its cards not yet shipped);
                                  prints CANCELLING (--wait: waits, and prints the state it ended in)
  campaign failures <campaignId>  every card of the campaign that failed, with its reason
  replay <dir>                    replay every workflow history (*.json, as \`temporal workflow show -o json\`) under
                                  <dir> against this code's workflows, offline, decoding payloads with the codec
                                  key ring (PAYLOAD_CODEC_KEYS[_FILE]); one FAIL line per history that diverges
                                  (file, event, reason), then \`replayed N histories: N passed, N failed\`

Options:
  --issuer <issuerId>   the issuer (default: D1_ISSUER_ID)
  --card <cardId>       (events failed) only that card's orders
  --status <S>          one of ${cardOrderStatuses.join(', ')}
  --request-id <id>     the cancel, change or re-ship request's id: a retry with the same id is the same request
  --address-file <f>    the new delivery address, as D1's address JSON
  --id <campaignId>     the campaign's id (campaign start): 1 to 48 letters, digits, _ and -
  --skip-invalid        (campaign start) start with the file's valid lines, leaving out the bad ones
  --pull                (campaign cancel) also ask D1 to cancel the campaign's cards not yet shipped
  --wait                (campaign cancel) wait until the campaign ended, and print its final state
  --until-closed        (watch) wait past the final status until the order's run closes
  --every <duration>    (campaign watch) how often to look (default 5s, at least 1s); each look costs the server
                        a describe and a query
  --json                machine-readable output
  -h, --help            this help

Exit codes: 0 done, 1 failed (the order failed, a cancel was refused, no such order: ORDER_NOT_FOUND, a redelivery
found no order: NO_ORDER, or no record: UNMATCHED_NOT_FOUND; issuer events still undelivered: REMAINING, or none
kept: ISSUER_EVENTS_NOT_FOUND; a watched campaign ended CANCELLED or FAILED, a campaign pause, resume or cancel was
refused, no such campaign: CAMPAIGN_NOT_FOUND; a history did not replay; no worker answered a read in time:
ERR_QUERY_UNANSWERED, ask again), 2 invalid input (ERR_ORDER_INVALID,
ERR_CONFIG_INVALID, a campaign file with bad lines: ERR_CAMPAIGN_FILE_INVALID, naming each line and field; replay: a
file that is not a history or that the key ring cannot decode: ERR_REPLAY_INPUT, naming each file, or an unreadable
key ring: ERR_CODEC_KEY) or a wrong call (ERR_USAGE), 3 the issuerRequestId is already used by a different order (ORDER_CONFLICT,
naming the fields that differ) or the campaign id by another file (CAMPAIGN_CONFLICT), or the campaign already
ran: it completed or was cancelled, or Temporal no longer knows it (CAMPAIGN_ALREADY_RAN; only a FAILED campaign
starts again).`;

const changeCommands = {
  accelerate: 'ACCELERATE',
  redirect: 'REDIRECT',
  'accelerate-and-redirect': 'ACCELERATE_AND_REDIRECT',
} as const satisfies Record<string, ChangeType>;
const commands: readonly string[] = [
  'order',
  'status',
  'list',
  'cancel',
  'watch',
  'reship',
  'unmatched',
  'events',
  'reconcile',
  'campaign',
  'replay',
  ...Object.keys(changeCommands),
];
const unmatchedCommands: readonly string[] = ['list', 'redeliver'];
const eventsCommands: readonly string[] = ['failed', 'redeliver'];
const campaignCommands: readonly string[] = ['start', 'status', 'watch', 'pause', 'resume', 'cancel', 'failures'];
/** Campaign states that end a campaign: `campaign watch` stops there. */
const campaignEnds: readonly string[] = ['COMPLETED', 'CANCELLED', 'FAILED'];
/** The order in which `campaign status` lists its counts: order statuses, then the campaign's own keys. */
const campaignCountOrder: readonly string[] = [
  'PENDING',
  'IN_FLIGHT',
  ...cardOrderStatuses,
  'ALREADY_ORDERED',
  'CONFLICT',
];
/** Width of `campaign watch`'s progress bar, in characters. */
const campaignBarWidth = 30;
/** Execution statuses that end a run without an order outcome; `describeState` shows them. */
const abnormalEnds: readonly string[] = ['CANCELLED', 'TERMINATED', 'TIMED_OUT'];
/** Execution statuses of an order whose run is still open. */
const openExecutions: readonly string[] = ['RUNNING', 'CONTINUED_AS_NEW', 'PAUSED'];

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  /** How often `watch` re-reads the order (and `campaign watch` the campaign), in ms. */
  watchIntervalMs?: number;
  /** Whether `out` is a terminal, where `campaign watch` redraws its line in place (default: stdout's). */
  isTTY?: boolean;
}

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

/** `campaign status`'s line: `ID STATE total=N valid=N invalid=N` and the cards counted by status. */
function describeCampaign(status: CampaignStatus): string {
  const rank = (key: string) => (campaignCountOrder.includes(key) ? campaignCountOrder.indexOf(key) : Infinity);
  const counts = Object.entries(status.counts)
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([key, n]) => ` ${key}=${n}`)
    .join('');
  const failure = status.failure ? ` failure=${status.failure.type} (${status.failure.message})` : '';
  const backlog = status.campaign?.heldByBacklog;
  const held = backlog === undefined ? '' : ` (next page waits for the workers: ${backlog} card tasks queued)`;
  return `${status.campaignId} ${status.state} total=${status.total} valid=${status.valid} invalid=${status.invalid}${counts}${failure}${held}`;
}

/**
 * `campaign watch`'s line: a bar of the valid cards that ended (shipped or failed), then the cards by stage. `failed`
 * is every card that ended or is ending without shipping: failed, compensated, returned, cancelled, conflicting.
 */
function campaignProgress(status: CampaignStatus): string {
  const sum = (keys: readonly string[]) => keys.reduce((n, key) => n + (status.counts[key] ?? 0), 0);
  const all = sum(Object.keys(status.counts));
  const waiting = sum(['PENDING', 'VALIDATING']);
  const atD1 = sum(['SUBMITTED']);
  const inProduction = sum(['SUBMITTING', 'IN_PRODUCTION', 'AWAITING_STOCK', 'IN_FLIGHT']);
  const shipped = sum(['SHIPPED']);
  const elsewhere = sum(['ALREADY_ORDERED']);
  const failed = all - waiting - atD1 - inProduction - shipped - elsewhere;
  const done = shipped + failed + elsewhere;
  const filled =
    status.valid > 0 ? Math.min(campaignBarWidth, Math.floor((done / status.valid) * campaignBarWidth)) : 0;
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(campaignBarWidth - filled)}]`;
  return (
    `${status.campaignId} ${status.state} ${bar} ${done}/${status.valid} validated=${status.valid} ` +
    `at D1=${atD1} in production=${inProduction} shipped=${shipped} failed=${failed}` +
    (elsewhere > 0 ? ` already ordered=${elsewhere}` : '')
  );
}

/** The JSON in `file`; an unreadable file is an invalid input named by its option. */
async function readJsonFile(option: string, file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    throw new OrderValidationError([
      { field: option, reason: `cannot read JSON from ${file}: ${(err as Error).message}` },
    ]);
  }
}

/** `--limit`: a positive whole number, or absent. */
function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const limit = Number(raw);
  if (!(/^[0-9]+$/.test(raw) && Number.isSafeInteger(limit) && limit > 0)) {
    throw new CliUsageError('--limit', 'must be a positive whole number');
  }
  return limit;
}

/** How often `campaign watch` refreshes by default: a campaign moves over hours, and each look costs the server. */
const CAMPAIGN_WATCH_EVERY_MS = 5_000;

/** `--every`: a duration of at least a second, or absent. */
function parseEvery(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = durationMs.safeParse(raw);
  if (!parsed.success || parsed.data < 1_000) {
    throw new CliUsageError('--every', 'must be a duration of at least 1s, such as 5s or 1m');
  }
  return parsed.data;
}

/** Reports a usage error: its code and message (with the usage, unless --json), exit code 2. */
function usageFailure(io: CliIo, err: CliUsageError, json: boolean): number {
  io.err(
    json
      ? JSON.stringify({ code: err.code, message: err.message, argument: err.argument })
      : `${err.code}: ${err.message}\n\n${usage}`,
  );
  return 2;
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
        card: { type: 'string' },
        'request-id': { type: 'string' },
        replaces: { type: 'string' },
        'address-file': { type: 'string' },
        id: { type: 'string' },
        'skip-invalid': { type: 'boolean', default: false },
        pull: { type: 'boolean', default: false },
        wait: { type: 'boolean', default: false },
        'until-closed': { type: 'boolean', default: false },
        every: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    const json = argv.includes('--json');
    return usageFailure(io, new CliUsageError('(arguments)', (err as Error).message), json);
  }
  const { values, positionals } = parsed;
  const [command, id] = positionals;
  if (values.help) {
    io.out(usage);
    return 0;
  }
  if (!command) return usageFailure(io, new CliUsageError('<command>', 'is required'), values.json);
  const print = (human: string, machine: unknown) => io.out(values.json ? JSON.stringify(machine) : human);
  const needId = () => {
    if (!id) throw new CliUsageError('<issuerRequestId>', `is required: card-orders ${command} <issuerRequestId>`);
    return id;
  };

  let client: CardOrdersClient | undefined;
  try {
    if (!commands.includes(command)) {
      throw new CliUsageError('<command>', `unknown command ${JSON.stringify(command)}`);
    }
    const badIssuer = values.issuer === undefined ? undefined : idFormatReason('issuer', values.issuer);
    if (badIssuer) throw new CliUsageError('--issuer', badIssuer);
    const config = loadConfig(io.env);
    const issuerId = values.issuer ?? config.d1.issuerId;
    const connect = async () => (client = await CardOrdersClient.connect({ config }));
    switch (command) {
      case 'order': {
        if (!values.file) throw new CliUsageError('--file', 'is required: card-orders order --file order.json');
        const request = await readJsonFile('--file', values.file);
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
      }
      case 'cancel': {
        const orderId = needId();
        const result = await (
          await connect()
        ).cancelOrder(orderId, {
          issuerId,
          ...(values['request-id'] !== undefined && { requestId: values['request-id'] }),
        });
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
      }
      case 'accelerate':
      case 'redirect':
      case 'accelerate-and-redirect': {
        const orderId = needId();
        const type = changeCommands[command];
        const file = values['address-file'];
        if (type !== 'ACCELERATE' && !file) {
          throw new CliUsageError(
            '--address-file',
            `is required: card-orders ${command} <issuerRequestId> --address-file address.json`,
          );
        }
        if (type === 'ACCELERATE' && file) throw new CliUsageError('--address-file', 'an accelerate keeps the address');
        const newDeliveryAddress = file ? ((await readJsonFile('--address-file', file)) as Address) : undefined;
        const result = await (
          await connect()
        ).changeOrder(
          orderId,
          { type, newDeliveryAddress },
          {
            issuerId,
            ...(values['request-id'] !== undefined && { requestId: values['request-id'] }),
          },
        );
        print(`${result.outcome}${result.reason ? ` (${result.reason})` : ''}`, result);
        return result.outcome === 'ACCEPTED' ? 0 : 1;
      }
      case 'reship': {
        const orderId = needId();
        const file = values['address-file'];
        if (!file) {
          throw new CliUsageError(
            '--address-file',
            'is required: card-orders reship <issuerRequestId> --address-file address.json',
          );
        }
        const newDeliveryAddress = (await readJsonFile('--address-file', file)) as Address;
        const result = await (
          await connect()
        ).reshipOrder(orderId, newDeliveryAddress, {
          issuerId,
          ...(values['request-id'] !== undefined && { requestId: values['request-id'] }),
        });
        const detail = result.issuerRequestId ?? result.reason;
        print(`${result.outcome}${detail ? ` (${detail})` : ''}`, result);
        return result.outcome === 'RESHIPPED' ? 0 : 1;
      }
      case 'unmatched': {
        const [, action, cardId] = positionals;
        if (!action || !unmatchedCommands.includes(action)) {
          throw new CliUsageError('<action>', 'must be list or redeliver: card-orders unmatched list|redeliver');
        }
        if (action === 'list') {
          const limit = parseLimit(values.limit);
          const records = await (await connect()).listUnmatched({ issuerId, ...(limit !== undefined && { limit }) });
          if (values.json) io.out(JSON.stringify(records));
          else
            for (const r of records)
              io.out(
                `${r.cardId} notifications=${r.notifications} latest=${r.latest} last=${r.lastReceivedAt}` +
                  (r.issuerRequestIds.length > 0 ? ` issuerRequestIds=${r.issuerRequestIds.join(',')}` : ''),
              );
          return 0;
        }
        if (!cardId) throw new CliUsageError('<cardId>', 'is required: card-orders unmatched redeliver <cardId>');
        const result = await (await connect()).redeliverUnmatched(cardId, issuerId);
        print(
          `${result.outcome} delivered=${result.delivered} late=${result.late} remaining=${result.remaining}`,
          result,
        );
        return result.outcome === 'REDELIVERED' ? 0 : 1;
      }
      case 'events': {
        const [, action, orderWorkflowId] = positionals;
        if (!action || !eventsCommands.includes(action)) {
          throw new CliUsageError('<action>', 'must be failed or redeliver: card-orders events failed|redeliver');
        }
        if (action === 'failed') {
          const limit = parseLimit(values.limit);
          const cardId = values.card;
          const badCard = cardId === undefined ? undefined : idFormatReason('card', cardId);
          if (badCard) throw new CliUsageError('--card', badCard);
          const records = await (
            await connect()
          ).listFailedIssuerEvents({
            issuerId,
            ...(cardId !== undefined && { cardId }),
            ...(limit !== undefined && { limit }),
          });
          if (values.json) io.out(JSON.stringify(records));
          else
            for (const r of records)
              io.out(
                `${r.orderWorkflowId} card=${r.cardId} events=${r.count} oldest=${r.oldestOccurredAt} ` +
                  `lastFailure=${r.lastFailure ?? '-'} redeliveries=${r.redeliveries}`,
              );
          return 0;
        }
        if (values.card !== undefined) throw new CliUsageError('--card', 'only events failed takes it');
        if (!orderWorkflowId) {
          throw new CliUsageError('<orderWorkflowId>', 'is required: card-orders events redeliver <orderWorkflowId>');
        }
        const badId = idFormatReason('orderWorkflow', orderWorkflowId);
        if (badId) throw new CliUsageError('<orderWorkflowId>', badId);
        const result = await (await connect()).redeliverIssuerEvents(orderWorkflowId);
        print(
          result.outcome === 'DELIVERED'
            ? `DELIVERED ${result.delivered}`
            : `REMAINING ${result.remaining} delivered=${result.delivered} failure=${result.lastFailure ?? '-'}`,
          result,
        );
        return result.outcome === 'DELIVERED' ? 0 : 1;
      }
      case 'reconcile': {
        const orders = await connect();
        const workflowId = await orders.reconcileNow();
        const summary = await orders.temporal.workflow
          .getHandle<(input: ReconcileOrdersInput) => Promise<ReconcileSummary>>(workflowId)
          .result();
        if (values.json) {
          io.out(JSON.stringify({ workflowId, ...summary }));
          return 0;
        }
        const { checked, updated, disagreements, unknownAtD1, failed, skipped } = summary.counts;
        io.out(
          `RECONCILED checked=${checked} updated=${updated} disagreements=${disagreements} ` +
            `unknownAtD1=${unknownAtD1} failed=${failed} skipped=${skipped} workflow=${workflowId}`,
        );
        for (const d of summary.latestDisagreements) {
          io.out(
            `${d.issuerRequestId} order=${d.orderStatus}/${d.orderStage ?? '-'} ` +
              `d1=${d.d1Stage}${d.d1Status ? `/${d.d1Status}` : ''}${d.updated ? ' updated' : ''}`,
          );
        }
        return 0;
      }
      case 'campaign': {
        const [, action, campaignArg] = positionals;
        if (!action || !campaignCommands.includes(action)) {
          throw new CliUsageError(
            '<action>',
            `must be one of ${campaignCommands.join(', ')}: card-orders campaign <action>`,
          );
        }
        if (action !== 'start') {
          for (const option of ['file', 'id', 'skip-invalid'] as const) {
            if (values[option]) throw new CliUsageError(`--${option}`, 'only campaign start takes it');
          }
        }
        if (action !== 'cancel' && values.pull) throw new CliUsageError('--pull', 'only campaign cancel takes it');
        if (action !== 'cancel' && values.wait) throw new CliUsageError('--wait', 'only campaign cancel takes it');
        if (action !== 'watch' && values.every) throw new CliUsageError('--every', 'only campaign watch takes it');
        const campaignId = (argument: string, value: string | undefined, call: string): string => {
          if (!value) throw new CliUsageError(argument, `is required: card-orders campaign ${call}`);
          const bad = idFormatReason('campaign', value);
          if (bad) throw new CliUsageError(argument, bad);
          return value;
        };
        if (action === 'start') {
          const call = 'start --file cards.csv --id <campaignId>';
          if (!values.file) throw new CliUsageError('--file', `is required: card-orders campaign ${call}`);
          const newId = campaignId('--id', values.id, call);
          const started = await (
            await connect()
          ).startCampaign({
            file: values.file,
            campaignId: newId,
            skipInvalid: values['skip-invalid'],
            issuerId,
            // The pages' count is known once the file is checked, before the first page is stored.
            onPage: ({ pages, valid, pageSize }) =>
              io.err(`stored page ${pages}${valid > 0 && pageSize > 0 ? `/${Math.ceil(valid / pageSize)}` : ''}`),
          });
          print(describeCampaign(started), started);
          return 0;
        }
        const id = campaignId('<campaignId>', campaignArg, `${action} <campaignId>`);
        const campaigns = await connect();
        switch (action) {
          case 'status': {
            const status = await campaigns.getCampaign(id, issuerId);
            print(describeCampaign(status), status);
            return 0;
          }
          case 'watch': {
            const everyMs = parseEvery(values.every) ?? io.watchIntervalMs ?? CAMPAIGN_WATCH_EVERY_MS;
            const tty = !values.json && (io.isTTY ?? process.stdout.isTTY === true);
            let last: string | undefined;
            for (;;) {
              let status: CampaignStatus;
              try {
                status = await campaigns.getCampaign(id, issuerId);
              } catch (err) {
                // A worker that just died: the next look asks again.
                if (!(err instanceof QueryUnansweredError)) throw err;
                await delay(everyMs);
                continue;
              }
              const line = campaignProgress(status);
              if (line !== last) {
                // On a terminal the line is redrawn in place (up one line, cleared); elsewhere one line per change.
                if (values.json) io.out(JSON.stringify(status));
                else io.out(tty && last !== undefined ? `\x1b[1A\x1b[2K${line}` : line);
              }
              last = line;
              if (campaignEnds.includes(status.state)) return status.state === 'COMPLETED' ? 0 : 1;
              await delay(everyMs);
            }
          }
          case 'pause':
          case 'resume':
          case 'cancel': {
            const result: CampaignControlResult =
              action === 'pause'
                ? await campaigns.pauseCampaign(id, issuerId)
                : action === 'resume'
                  ? await campaigns.resumeCampaign(id, issuerId)
                  : await campaigns.cancelCampaign(id, { pull: values.pull, issuerId });
            // Cancelling already, or cancelled: with --wait, that is the cancel asked for; wait for its end.
            const alreadyCancelled = ['CAMPAIGN_CANCELLING', 'CAMPAIGN_ALREADY_CANCELLED'].includes(
              result.reason ?? '',
            );
            if (result.outcome === 'REFUSED' && !(values.wait && alreadyCancelled)) {
              print(`REFUSED (${result.reason ?? 'unknown'})`, result);
              return 1;
            }
            if (action !== 'cancel') {
              print(result.campaign?.state ?? 'DONE', result);
              return 0;
            }
            // Taken: the campaign ends after the page under way (and its pull, with --pull).
            if (!values.wait) {
              print('CANCELLING', result);
              return 0;
            }
            for (;;) {
              const status = await campaigns.getCampaign(id, issuerId);
              if (campaignEnds.includes(status.state)) {
                print(status.state, status);
                return status.state === 'CANCELLED' ? 0 : 1;
              }
              await delay(io.watchIntervalMs ?? 1000);
            }
          }
          default: {
            const failures = await campaigns.campaignFailures(id, issuerId);
            // None: a campaign whose cards all went well, or no campaign at all (CAMPAIGN_NOT_FOUND).
            if (failures.length === 0) await campaigns.getCampaign(id, issuerId);
            if (values.json) io.out(JSON.stringify(failures));
            else
              for (const f of failures)
                io.out(
                  `${f.issuerRequestId} ${f.cardId} ${f.errorCode} ${f.reason}` +
                    (f.line === undefined ? '' : ` line=${f.line}`),
                );
            return 0;
          }
        }
      }
      case 'replay': {
        if (!id) throw new CliUsageError('<dir>', 'is required: card-orders replay <dir>');
        // Loaded here only: the replay worker (native runtime, bundle) is no cost of the other commands.
        const replay = await import('../workers/replay-histories.js');
        const { loadWorkflowBundle } = await import('../workers/workflow-bundle.js');
        replay.installReplayRuntime((line) => io.err(line));
        const summary = await replay.replayDirectory(id, {
          codecKeys: config.payloadCodec,
          // The production bundle, as the worker loads it: the prebuilt one when it matches the sources.
          workflowBundle: () => loadWorkflowBundle(config.worker.workflowBundlePath, (note) => io.err(note)),
          onResult: ({ file, failure }) => {
            if (failure) print(replay.formatFailure(file, failure), { file: file.name, ...failure });
          },
        });
        print(replay.formatSummary(summary), summary);
        return summary.failed > 0 ? 1 : 0;
      }
      default:
        throw new CliUsageError('<command>', `unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (isCardOrderError(err) && err.code === 'ERR_USAGE') return usageFailure(io, err as CliUsageError, values.json);
    if (isCardOrderError(err) && (err.code === 'ERR_ORDER_INVALID' || err.code === 'ERR_CONFIG_INVALID')) {
      const { issues } = err as unknown as { issues: unknown[] };
      io.err(
        values.json ? JSON.stringify({ code: err.code, message: err.message, issues }) : `${err.code}: ${err.message}`,
      );
      return 2;
    }
    if (isCardOrderError(err) && err.code === 'ERR_CAMPAIGN_FILE_INVALID') {
      // Each bad line by number and field, never a value (the error holds the first ones).
      const { invalid, lines } = err as CampaignFileError;
      if (values.json) io.err(JSON.stringify({ code: err.code, message: err.message, invalid, lines }));
      else if (lines.length === 0) io.err(`${err.code}: ${err.message}`);
      else {
        for (const l of lines) {
          io.err(`${err.code}: line ${l.line}: ${l.issues.map((i) => `${i.field} ${i.reason}`).join('; ')}`);
        }
        if (invalid > lines.length) io.err(`${err.code}: and ${invalid - lines.length} more invalid line(s)`);
      }
      return 2;
    }
    if (isCardOrderError(err) && err.code === 'ERR_REPLAY_INPUT') {
      // Each file and why, never its contents; nothing was replayed.
      const { problems } = err as ReplayInputError;
      if (values.json) io.err(JSON.stringify({ code: err.code, message: err.message, problems }));
      else for (const p of problems) io.err(`${err.code}: ${p.file}: ${p.reason}`);
      return 2;
    }
    if (command === 'replay' && isCardOrderError(err) && err.code === 'ERR_CODEC_KEY') {
      // The key ring cannot be read: nothing was replayed, like a wrong input.
      io.err(values.json ? JSON.stringify({ code: err.code, message: err.message }) : `${err.code}: ${err.message}`);
      return 2;
    }
    if (isCardOrderError(err) && err.code === 'CAMPAIGN_CONFLICT') {
      const { campaignId } = err as CampaignConflictError;
      io.err(
        values.json
          ? JSON.stringify({ code: err.code, message: err.message, campaignId })
          : `${err.code}: ${err.message}`,
      );
      return 3;
    }
    if (isCardOrderError(err) && err.code === 'CAMPAIGN_ALREADY_RAN') {
      const { campaignId, ended, startedAt } = err as CampaignAlreadyRanError;
      io.err(
        values.json
          ? JSON.stringify({ code: err.code, message: err.message, campaignId, ended, startedAt })
          : `${err.code}: ${err.message}`,
      );
      return 3;
    }
    if (isCardOrderError(err) && err.code === 'ORDER_CONFLICT') {
      const { fields, workflowId } = err as OrderConflictError;
      io.err(
        values.json
          ? JSON.stringify({ code: err.code, message: err.message, workflowId, fields })
          : `${err.code}: ${err.message}`,
      );
      return 3;
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
