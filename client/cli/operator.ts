/**
 * The operator commands: `unmatched list|redeliver` (notifications for cards with no order of ours), `events
 * failed|redeliver` (issuer events not delivered) and `reconcile` (the open orders against D1, now).
 *
 * @module
 */
import { CliUsageError } from '../../common/errors.js';
import type { ReconcileOrdersInput, ReconcileSummary } from '../../rules/contracts/reconcile.js';
import { idFormatReason } from '../id-issues.js';
import { parseLimit } from './args.js';
import type { Command } from './context.js';

const unmatchedActions: readonly string[] = ['list', 'redeliver'];
const eventsActions: readonly string[] = ['failed', 'redeliver'];

const unmatched: Command = async ({ args, values, issuerId, io, connect, print }) => {
  const [action, cardId] = args;
  if (!action || !unmatchedActions.includes(action)) {
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
  print(`${result.outcome} delivered=${result.delivered} late=${result.late} remaining=${result.remaining}`, result);
  return result.outcome === 'REDELIVERED' ? 0 : 1;
};

const events: Command = async ({ args, values, issuerId, io, connect, print }) => {
  const [action, orderWorkflowId] = args;
  if (!action || !eventsActions.includes(action)) {
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
};

const reconcile: Command = async ({ values, io, connect }) => {
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
};

export const operatorCommands: Readonly<Record<string, Command>> = { unmatched, events, reconcile };
