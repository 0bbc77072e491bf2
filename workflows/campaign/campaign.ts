/**
 * One bulk campaign: the thin Temporal shell around its state machine (`campaign-machine.ts`). The CLI stored the
 * file's pages before starting it; it submits them one page (one D1 batch) at a time while the cards in flight leave
 * room and the workers keep up with the card tasks already queued, counts its cards as they report that they
 * settled, and completes once none is in flight (each shipped or ended; a shipped card's order goes on listening for
 * its carrier on its own). A page done again after a lost worker is harmless (D1 and the card orders both deduplicate
 * by issuerRequestId). Its history holds pages and counts, never a card.
 *
 * @module
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CardOrderActivities } from '../../activities/index.js';
import { campaignCardSettledSignal } from '../../rules/contracts/card-order.js';
import {
  campaignStateQuery,
  cancelCampaignUpdate,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
  type CampaignInput,
  type CampaignView,
} from '../../rules/contracts/campaign.js';
import { activityApplicationFailure } from '../activity-failure.js';
import { wakeTimer } from '../wake-timer.js';
import { workflowClock } from '../workflow-clock.js';
import { campaignV1 } from '../legacy/campaign-v1.js';
import {
  CAMPAIGN_RECORDS_BEHAVIOUR,
  campaignView,
  controlRefusal,
  decideCampaign,
  describeCampaign,
  newCampaignMachine,
  onBacklogRead,
  onCancel,
  onCardSettled,
  onCounted,
  onPageFailed,
  onPageSubmitted,
  onPause,
  onPulled,
  onResume,
  type CampaignMachineState,
  type CampaignStep,
} from '../../rules/campaign/campaign-machine.js';

/** The patch behind campaigns that keep their own records; runs without it go on as `campaignV1`. */
const CAMPAIGN_RECORDS = 'campaign-records';

/** The patch behind campaigns whose pages wait for the workers' backlog of card tasks to be low. */
const CAMPAIGN_PACED_PAGES = 'campaign-paced-pages';

/** Pages one run submits before it continues as new, keeping its history small. */
const PAGES_PER_RUN = 200;

/**
 * A page starts up to a thousand card orders and makes one D1 batch call; it heartbeats as it goes, so a worker lost
 * mid-page is noticed within the heartbeat timeout. A few attempts, then the page gives up for now and the campaign
 * tries it again later: pause and cancel never wait behind a D1 that keeps failing. It is idempotent.
 */
function pageActivities(heartbeatTimeoutMs: number) {
  return proxyActivities<CardOrderActivities>({
    startToCloseTimeout: '30m',
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
  });
}
const { countCampaignCards } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
});
// A reading that fails goes unheeded: the pace is a courtesy to the workers, never a reason to stop.
const { readCardBacklog } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 3 },
});
const { pullCampaignCards } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
});

export async function campaign(input: CampaignInput): Promise<CampaignView> {
  const carried = input.carried as { behaviour?: number } | undefined;
  // A run continued from a campaign of before keeps its rules; a new one settles them, once, before any command.
  const keepsRecords = carried ? carried.behaviour === CAMPAIGN_RECORDS_BEHAVIOUR : patched(CAMPAIGN_RECORDS);
  return keepsRecords ? campaignWithRecords(input) : campaignV1(input);
}

async function campaignWithRecords(input: CampaignInput): Promise<CampaignView> {
  // Every decision reads this clock: never earlier than a timer the campaign saw fire (see workflow-clock.ts; chaos
  // seed 15 met a worker that decided on the time of the task before).
  const clock = workflowClock();
  const m =
    (input.carried as CampaignMachineState | undefined) ??
    newCampaignMachine(
      { issuerId: input.issuerId, campaignId: input.campaignId, fileDigest: input.fileDigest },
      input.ingestion,
      input.timings,
      clock.now(),
      patched(CAMPAIGN_PACED_PAGES),
    );
  const { submitCampaignPage } = pageActivities(m.timings.pageHeartbeatTimeoutMs);
  let wake = false;

  setHandler(campaignStateQuery, () => campaignView(m));
  setHandler(campaignCardSettledSignal, (report) => {
    if (onCardSettled(m, report)) wake = true;
  });
  const refuseUnless = (action: 'pause' | 'resume' | 'cancel') => () => {
    const reason = controlRefusal(m);
    if (reason) throw ApplicationFailure.create({ type: reason, message: `Cannot ${action}: ${reason}` });
  };
  setHandler(
    pauseCampaignUpdate,
    () => {
      onPause(m);
      wake = true;
      return campaignView(m);
    },
    { validator: refuseUnless('pause') },
  );
  setHandler(
    resumeCampaignUpdate,
    () => {
      onResume(m);
      wake = true;
      return campaignView(m);
    },
    { validator: refuseUnless('resume') },
  );
  setHandler(
    cancelCampaignUpdate,
    ({ pull }) => {
      onCancel(m, pull);
      wake = true;
      return campaignView(m);
    },
    { validator: (_request: { pull: boolean }) => refuseUnless('cancel')() },
  );

  let shown = '';
  const show = () => {
    const details = describeCampaign(m);
    if (details !== shown) setCurrentDetails(details);
    shown = details;
  };

  async function perform(step: Exclude<CampaignStep, { kind: 'wait' } | { kind: 'finish' }>): Promise<void> {
    const ids = { issuerId: m.issuerId, campaignId: m.campaignId };
    switch (step.kind) {
      case 'submitPage':
        try {
          const outcome = await submitCampaignPage({
            ...ids,
            page: step.page,
            submission: input.submission,
            cardDefaults: input.cardDefaults,
            cardSubmitTimeoutMs: m.timings.cardSubmitTimeoutMs,
            cardsReport: true,
          });
          onPageSubmitted(m, step.page, outcome, clock.now());
        } catch (err) {
          const failure = activityApplicationFailure(err);
          // A page that fails for good (missing from the store) fails the campaign, named by its type.
          if (failure?.nonRetryable) throw err;
          onPageFailed(m, step.page, failure?.type ?? undefined, clock.now());
        }
        return;
      case 'readBacklog': {
        const reading = await readCardBacklog().catch(() => ({ backlog: undefined }));
        onBacklogRead(m, reading.backlog, clock.now());
        return;
      }
      case 'count':
        onCounted(m, (await countCampaignCards(ids)).inFlight, clock.now());
        return;
      case 'pull':
        await pullCampaignCards({ ...ids, pages: step.pages });
        onPulled(m);
        return;
    }
  }

  // One timer, re-armed only when the planned time changes: a card's report wakes the loop without one.
  const timer = wakeTimer(clock, () => {
    wake = true;
  });

  let pagesThisRun = 0;
  for (;;) {
    wake = false;
    const step = decideCampaign(m, clock.now());
    show();
    if (step.kind === 'finish') return campaignView(m);
    if (step.kind !== 'wait') {
      if (step.kind === 'submitPage') pagesThisRun += 1;
      await perform(step);
      continue;
    }
    if ((pagesThisRun >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) && allHandlersFinished()) {
      return continueAsNew<typeof campaign>({ ...input, carried: m });
    }
    // Wakes at the planned time, at a card's report, or at once on an update (pause, resume, cancel).
    if (step.until !== undefined && timer.current()?.at !== step.until) timer.arm(step.until);
    await condition(() => wake);
  }
}
