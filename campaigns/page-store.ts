/**
 * Where a campaign's cards wait between ingestion and submission: pages of up to one D1 batch, encrypted at rest
 * with the payload codec's key ring (the same AES-256-GCM keys, ids and rotation as Temporal payloads), so names and
 * addresses are never written in clear, and card data was already D1's JWE before it got here. A manifest (ids and
 * counts only) says how far ingestion got, so a `campaign start` cut off mid-file resumes where it stopped.
 *
 * The embedded default is a folder (`CAMPAIGN_STORE_DIR`) that the CLI writes and the workers read: one machine,
 * or a volume every worker mounts. Writes go to a temporary file renamed into place, so a page is whole or absent.
 *
 * @module
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { OrderFingerprint } from '../orders/fingerprint.js';
import type { CardOrder } from '../orders/schema.js';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

/** One card of a page: the order as the workflow runs it (card data as D1's JWE), its fingerprint and its line. */
export interface CampaignCard {
  line: number;
  order: CardOrder;
  fingerprint: OrderFingerprint;
}

/** An invalid line of the file: its number and what is wrong, by field (never the value). */
export interface InvalidLine {
  line: number;
  issues: { field: string; reason: string }[];
}

/** What the store knows of a campaign's ingestion: ids and counts, no card data, no PII. */
export interface CampaignManifest {
  issuerId: string;
  campaignId: string;
  /** SHA-256 of the file's bytes: the same campaign id with another file is refused. */
  fileDigest: string;
  format: string;
  pageSize: number;
  /** Lines holding a card, valid or not. */
  total: number;
  valid: number;
  invalid: number;
  /** The first invalid lines (at most {@link MAX_INVALID_LINES_KEPT}). */
  invalidLines: InvalidLine[];
  /** Pages written so far. */
  pages: number;
  /** Every valid card is in a page. */
  complete: boolean;
}

export const MAX_INVALID_LINES_KEPT = 1000;

/** A card the campaign could not order: refused by D1 in its batch, or its issuerRequestId used by another order. */
export interface CampaignCardFailure {
  line: number;
  cardId: string;
  issuerRequestId: string;
  /** D1's code (e.g. INVALID_FIELD, ORDER_IN_PROGRESS), or ORDER_CONFLICT. */
  errorCode: string;
  reason: string;
  fields?: { field: string; reason: string }[] | undefined;
}

/** Where a campaign's pages live; the file store is the embedded default. */
export interface CampaignPageStore {
  readManifest(issuerId: string, campaignId: string): Promise<CampaignManifest | undefined>;
  writeManifest(manifest: CampaignManifest): Promise<void>;
  hasPage(issuerId: string, campaignId: string, index: number): Promise<boolean>;
  writePage(issuerId: string, campaignId: string, index: number, cards: readonly CampaignCard[]): Promise<void>;
  readPage(issuerId: string, campaignId: string, index: number): Promise<CampaignCard[]>;
  /** The page's failures, replacing what a previous attempt at the page recorded. */
  writeFailures(
    issuerId: string,
    campaignId: string,
    index: number,
    failures: readonly CampaignCardFailure[],
  ): Promise<void>;
  /** Every page's failures, in page order. */
  readFailures(issuerId: string, campaignId: string): Promise<CampaignCardFailure[]>;
}

/** The embedded store: a folder per campaign under `root`, readable by the owner only. */
export class FileCampaignPageStore implements CampaignPageStore {
  constructor(
    private readonly root: string,
    private readonly codecs: readonly PayloadCodec[],
  ) {}

  async readManifest(issuerId: string, campaignId: string): Promise<CampaignManifest | undefined> {
    try {
      return JSON.parse(await readFile(this.file(issuerId, campaignId, 'manifest.json'), 'utf8')) as CampaignManifest;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  writeManifest(manifest: CampaignManifest): Promise<void> {
    const { issuerId, campaignId } = manifest;
    return this.writeAtomically(this.file(issuerId, campaignId, 'manifest.json'), JSON.stringify(manifest));
  }

  async hasPage(issuerId: string, campaignId: string, index: number): Promise<boolean> {
    try {
      await readFile(this.file(issuerId, campaignId, pageName(index)));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  writePage(issuerId: string, campaignId: string, index: number, cards: readonly CampaignCard[]): Promise<void> {
    return this.writeSealed(this.file(issuerId, campaignId, pageName(index)), cards);
  }

  readPage(issuerId: string, campaignId: string, index: number): Promise<CampaignCard[]> {
    return this.readSealed<CampaignCard[]>(this.file(issuerId, campaignId, pageName(index)));
  }

  /** Failures are sealed like pages: D1's free-text reasons could name what they refused. */
  writeFailures(issuerId: string, campaignId: string, index: number, failures: readonly CampaignCardFailure[]) {
    return this.writeSealed(this.file(issuerId, campaignId, failuresName(index)), failures);
  }

  async readFailures(issuerId: string, campaignId: string): Promise<CampaignCardFailure[]> {
    const folder = path.dirname(this.file(issuerId, campaignId, 'manifest.json'));
    const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => /^failures-\d+\.bin$/.test(n));
    const pages = await Promise.all(
      names.sort().map((name) => this.readSealed<CampaignCardFailure[]>(path.join(folder, name))),
    );
    return pages.flat();
  }

  /** `value` as a Temporal payload, through the codecs (encrypted), written whole. */
  private async writeSealed(file: string, value: unknown): Promise<void> {
    let payloads: Payload[] = [defaultPayloadConverter.toPayload(value)];
    for (const codec of this.codecs) payloads = await codec.encode(payloads);
    await this.writeAtomically(file, PayloadMessage.encode(payloads[0] ?? {}).finish());
  }

  private async readSealed<T>(file: string): Promise<T> {
    let payloads: Payload[] = [PayloadMessage.decode(await readFile(file))];
    for (const codec of [...this.codecs].reverse()) payloads = await codec.decode(payloads);
    return defaultPayloadConverter.fromPayload<T>(payloads[0] ?? {});
  }

  private file(issuerId: string, campaignId: string, name: string): string {
    // Both ids are checked ([A-Za-z0-9_-]) before they get here; resolve keeps a bad one from leaving the root.
    const file = path.resolve(this.root, issuerId, campaignId, name);
    if (!file.startsWith(path.resolve(this.root) + path.sep)) throw new RangeError('campaign path outside the store');
    return file;
  }

  private async writeAtomically(file: string, data: string | Uint8Array): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // Unique per write: two attempts at one page (a retry while a slow worker still runs) never share a file.
    const temporary = `${file}.${randomUUID()}.tmp`;
    await writeFile(temporary, data, { mode: 0o600 });
    await rename(temporary, file);
  }
}

function pageName(index: number): string {
  return `page-${String(index).padStart(6, '0')}.bin`;
}

function failuresName(index: number): string {
  return `failures-${String(index).padStart(6, '0')}.bin`;
}
