/**
 * What a campaign's manifest records of its run: when it was first started and how it ended. Temporal forgets a
 * campaign (and its cards) after its retention; the manifest does not, so a campaign that ran is never started again
 * under its id, which would order every card a second time.
 *
 * The client writes it: the start before the campaign workflow starts, the end whenever it reads a closed campaign
 * (`campaign start`, `status`, `watch`). The campaign workflow itself is left unchanged (no activity at its end), so
 * an end nobody read before retention stays unrecorded; a start then counts as a run (see `startCampaign`).
 *
 * @module
 */
import { z } from 'zod';
import { manifestData, updateManifest, type CampaignManifest, type CampaignPageStore } from './page-store.js';

/** How a run ended, as the campaign's view names it. */
export const campaignEnds = ['COMPLETED', 'CANCELLED', 'FAILED'] as const;
export type CampaignEnd = (typeof campaignEnds)[number];

export const campaignRunSchema = z.object({
  /** When the campaign was first asked to start (ISO 8601): before this, no run of it can exist. */
  startedAt: z.string(),
  /** How its latest run ended, when a client saw it closed; absent while it runs (or when nobody saw its end). */
  ended: z.enum(campaignEnds).optional(),
  endedAt: z.string().optional(),
});
export type CampaignRun = z.infer<typeof campaignRunSchema>;

/** The manifest as stored, with its run record (kept beside the ingestion fields, ids and times only). */
export type RecordedManifest = CampaignManifest & { run?: CampaignRun | undefined };

/**
 * The manifest's run record. A record that does not parse (edited by hand, another version) counts as a start at an
 * unknown time: refusing a second start is the safe side.
 */
export function runOf(manifest: CampaignManifest): CampaignRun | undefined {
  const run = (manifest as RecordedManifest).run;
  if (run === undefined) return undefined;
  const parsed = campaignRunSchema.safeParse(run);
  return parsed.success ? parsed.data : { startedAt: 'unknown' };
}

/** Records `run` in the campaign's manifest, by a conditional write over whatever another process wrote meanwhile. */
export async function writeRun(store: CampaignPageStore, manifest: CampaignManifest, run: CampaignRun): Promise<void> {
  await updateManifest(store, manifest.issuerId, manifest.campaignId, (current): RecordedManifest => ({
    ...manifestData(current ?? manifest),
    run,
  }));
}
