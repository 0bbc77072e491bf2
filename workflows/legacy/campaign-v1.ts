/**
 * FROZEN: the campaign as it ran before it kept its own records (campaigns started before the patch
 * `campaign-records`, and the runs they continue as new). It paces itself on visibility counts. Do not edit it: its
 * commands are in the histories of open campaigns. `campaign.ts` sends those runs here.
 *
 * @module
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CardOrderActivities } from '../../activities/index.js';
import {
  campaignStateQuery,
  cancelCampaignUpdate,
  pauseCampaignUpdate,
  resumeCampaignUpdate,
  type CampaignInput,
  type CampaignView,
} from '../../rules/contracts/campaign.js';
import {
  campaignView,
  controlRefusal,
  decideCampaign,
  describeCampaign,
  newCampaignMachine,
  onCancel,
  onCounted,
  onPageSubmitted,
  onPause,
  onPulled,
  onResume,
  type CampaignMachineState,
  type CampaignStep,
} from '../../rules/legacy/campaign-machine-v1.js';

/** Pages one run submits before it continues as new, keeping its history small. */
const PAGES_PER_RUN = 200;

/**
 * A page starts up to a thousand card orders and makes one D1 batch call; it heartbeats as it goes, so pause and
 * cancel reach it, and a worker lost mid-page is noticed within the heartbeat timeout. Retried until it succeeds:
 * it is idempotent.
 */
function pageActivities(heartbeatTimeoutMs: number) {
  return proxyActivities<CardOrderActivities>({
    startToCloseTimeout: '30m',
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5m' },
  });
}
const { countCampaignCards } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
});
const { pullCampaignCards } = proxyActivities<CardOrderActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
});

export async function campaignV1(input: CampaignInput): Promise<CampaignView> {
  const m =
    (input.carried as CampaignMachineState | undefined) ??
    newCampaignMachine(
      { issuerId: input.issuerId, campaignId: input.campaignId, fileDigest: input.fileDigest },
      input.ingestion,
      input.timings,
      Date.now(),
    );
  const { submitCampaignPage } = pageActivities(m.timings.pageHeartbeatTimeoutMs);
  let wake = false;

  setHandler(campaignStateQuery, () => campaignView(m));
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
      case 'submitPage': {
        // A page runs to its end (seconds): pause and cancel take effect between pages, so no card of a page is
        // left started and unsent, and every result is counted.
        const result = await submitCampaignPage({
          ...ids,
          page: step.page,
          submission: input.submission,
          cardDefaults: input.cardDefaults,
          cardSubmitTimeoutMs: m.timings.cardSubmitTimeoutMs,
        });
        onPageSubmitted(m, step.page, result);
        return;
      }
      case 'count':
        onCounted(m, await countCampaignCards(ids), Date.now());
        return;
      case 'pull':
        await pullCampaignCards(ids);
        onPulled(m);
        return;
    }
  }

  let pagesThisRun = 0;
  for (;;) {
    wake = false;
    const step = decideCampaign(m, Date.now());
    show();
    if (step.kind === 'finish') return campaignView(m);
    if (step.kind !== 'wait') {
      if (step.kind === 'submitPage') pagesThisRun += 1;
      await perform(step);
      continue;
    }
    if (pagesThisRun >= PAGES_PER_RUN || workflowInfo().continueAsNewSuggested) {
      return continueAsNew<typeof campaignV1>({ ...input, carried: m });
    }
    // Wakes at the planned reading, or at once on an update (ingested, pause, resume, cancel).
    const { until } = step;
    if (until === undefined) await condition(() => wake);
    else await condition(() => wake, Math.max(until - Date.now(), 1));
  }
}
