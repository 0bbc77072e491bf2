/**
 * The `campaign` command: `start`, `status`, `watch`, `pause`, `resume`, `cancel` and `failures` of a bulk campaign.
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';
import { CliUsageError, QueryUnansweredError } from '../../common/errors.js';
import { cardOrderStatuses } from '../../rules/contracts/card-order.js';
import type { CampaignControlResult, CampaignStatus } from '../campaigns.js';
import type { CardOrdersClient } from '../card-orders-client.js';
import { idFormatReason } from '../id-issues.js';
import { parseEvery } from './args.js';
import type { Command, CommandContext } from './context.js';

const campaignActions: readonly string[] = ['start', 'status', 'watch', 'pause', 'resume', 'cancel', 'failures'];
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
/** How often `campaign watch` refreshes by default: a campaign moves over hours, and each look costs the server. */
const CAMPAIGN_WATCH_EVERY_MS = 5_000;

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

/** A campaign id argument: required, and in D1's format. */
function campaignId(argument: string, value: string | undefined, call: string): string {
  if (!value) throw new CliUsageError(argument, `is required: card-orders campaign ${call}`);
  const bad = idFormatReason('campaign', value);
  if (bad) throw new CliUsageError(argument, bad);
  return value;
}

/** The command: refuses the options of other actions, then runs its action. */
const campaign: Command = async (ctx) => {
  const { args, values } = ctx;
  const [action, campaignArg] = args;
  if (!action || !campaignActions.includes(action)) {
    throw new CliUsageError('<action>', `must be one of ${campaignActions.join(', ')}: card-orders campaign <action>`);
  }
  if (action !== 'start') {
    for (const option of ['file', 'id', 'skip-invalid'] as const) {
      if (values[option]) throw new CliUsageError(`--${option}`, 'only campaign start takes it');
    }
  }
  if (action !== 'cancel' && values.pull) throw new CliUsageError('--pull', 'only campaign cancel takes it');
  if (action !== 'cancel' && values.wait) throw new CliUsageError('--wait', 'only campaign cancel takes it');
  if (action !== 'watch' && values.every) throw new CliUsageError('--every', 'only campaign watch takes it');
  if (action === 'start') return start(ctx);
  const id = campaignId('<campaignId>', campaignArg, `${action} <campaignId>`);
  const campaigns = await ctx.connect();
  switch (action) {
    case 'status': {
      const status = await campaigns.getCampaign(id, ctx.issuerId);
      ctx.print(describeCampaign(status), status);
      return 0;
    }
    case 'watch':
      return watch(ctx, campaigns, id);
    case 'pause':
    case 'resume':
    case 'cancel':
      return control(ctx, campaigns, id, action);
    default:
      return failures(ctx, campaigns, id);
  }
};

/** `campaign start`: stores the file (a line on stderr per page stored), starts the campaign, prints its status. */
async function start({ values, issuerId, io, connect, print }: CommandContext): Promise<number> {
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

/** `campaign watch`: one progress line per change (redrawn in place on a terminal) until the campaign ends. */
async function watch(
  { values, issuerId, io }: CommandContext,
  campaigns: CardOrdersClient,
  id: string,
): Promise<number> {
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

/** `campaign pause|resume|cancel`: the campaign's verdict; `cancel --wait` waits for the state it ends in. */
async function control(
  { values, issuerId, io, print }: CommandContext,
  campaigns: CardOrdersClient,
  id: string,
  action: 'pause' | 'resume' | 'cancel',
): Promise<number> {
  const result: CampaignControlResult =
    action === 'pause'
      ? await campaigns.pauseCampaign(id, issuerId)
      : action === 'resume'
        ? await campaigns.resumeCampaign(id, issuerId)
        : await campaigns.cancelCampaign(id, { pull: values.pull, issuerId });
  // Cancelling already, or cancelled: with --wait, that is the cancel asked for; wait for its end.
  const alreadyCancelled = ['CAMPAIGN_CANCELLING', 'CAMPAIGN_ALREADY_CANCELLED'].includes(result.reason ?? '');
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

/** `campaign failures`: one line per card that failed, with its reason. */
async function failures(
  { values, issuerId, io }: CommandContext,
  campaigns: CardOrdersClient,
  id: string,
): Promise<number> {
  const failed = await campaigns.campaignFailures(id, issuerId);
  // None: a campaign whose cards all went well, or no campaign at all (CAMPAIGN_NOT_FOUND).
  if (failed.length === 0) await campaigns.getCampaign(id, issuerId);
  if (values.json) io.out(JSON.stringify(failed));
  else
    for (const f of failed)
      io.out(
        `${f.issuerRequestId} ${f.cardId} ${f.errorCode} ${f.reason}` + (f.line === undefined ? '' : ` line=${f.line}`),
      );
  return 0;
}

export const campaignCommands: Readonly<Record<string, Command>> = { campaign };
