/**
 * Where a campaign's cards wait between ingestion and submission: pages of up to one D1 batch, encrypted at rest
 * with the payload codec's key ring (the same AES-256-GCM keys, ids and rotation as Temporal payloads), so names and
 * addresses are never written in clear, and card data was already D1's JWE before it got here. A manifest (ids and
 * counts only) says how far ingestion got, so a `campaign start` cut off mid-file resumes where it stopped.
 *
 * The embedded default is a folder (`CAMPAIGN_STORE_DIR`) that the CLI writes and the workers read: one machine,
 * or a volume every worker mounts. Writes go to a temporary file renamed into place, so a page is whole or absent.
 * The shared store for several machines is PostgreSQL (`pg-page-store.ts`), chosen with `CAMPAIGN_STORE`.
 *
 * Words: a *page* is the campaign's unit, stored here and sent to D1 in one call (`submitCampaignPage`); *batch* is
 * D1's word for that call (its batch "Order cards" API, `BatchCardItem`, `batch-rules.ts`), kept in names that reach
 * histories or the environment (`submission: 'BATCH'`, D1_BATCH_SIZE = cards per page, D1_BATCH_REQUEST_TIMEOUT);
 * the webhook's notification batches are D1's other batches, unrelated to pages.
 *
 * @module
 */
import { link, mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { CampaignPageMissingError, CampaignStoreConflictError } from './errors.js';
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

/** A manifest as stored, with the version a conditional write must name. */
export type StoredManifest = CampaignManifest & {
  /** Bumped by every write; a write naming an older version is refused ({@link CampaignStoreConflictError}). */
  version: number;
};

/** A campaign the store holds, for the retention sweep. */
export interface StoredCampaign {
  issuerId: string;
  campaignId: string;
  /** When its manifest was last written. */
  updatedAt: Date;
  /** Pages still stored. */
  pages: number;
}

/** Where a campaign's pages live; the file store is the embedded default, PostgreSQL the shared one. */
export interface CampaignPageStore {
  readManifest(issuerId: string, campaignId: string): Promise<StoredManifest | undefined>;
  /**
   * Writes the manifest if the stored one is still at `expectedVersion` (undefined: none stored yet), so two
   * processes never overwrite each other's progress. Resolves to the new version.
   *
   * @throws {CampaignStoreConflictError} when another write came first: read again and retry ({@link updateManifest}).
   */
  writeManifest(manifest: CampaignManifest, expectedVersion: number | undefined): Promise<number>;
  hasPage(issuerId: string, campaignId: string, index: number): Promise<boolean>;
  writePage(issuerId: string, campaignId: string, index: number, cards: readonly CampaignCard[]): Promise<void>;
  /** @throws {CampaignPageMissingError} when the page is absent or cannot be opened (never worth a retry). */
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
  /** One page's failures (none recorded: empty), for a retried page to keep what an earlier attempt learned. */
  readPageFailures(issuerId: string, campaignId: string, index: number): Promise<CampaignCardFailure[]>;
  /** Every campaign in the store. */
  listCampaigns(): Promise<StoredCampaign[]>;
  /** Deletes the campaign's pages (card data); its manifest and failure records stay. Resolves to how many went. */
  deletePages(issuerId: string, campaignId: string): Promise<number>;
  /** Releases connections; the store is not used afterwards. */
  close(): Promise<void>;
}

/**
 * Reads the manifest, applies `change` and writes the result conditionally, again from a fresh read whenever another
 * process wrote in between. `change` may throw to give up (e.g. the manifest names another file).
 */
export async function updateManifest(
  store: CampaignPageStore,
  issuerId: string,
  campaignId: string,
  change: (current: StoredManifest | undefined) => CampaignManifest,
): Promise<StoredManifest> {
  for (let attempt = 1; ; attempt += 1) {
    const current = await store.readManifest(issuerId, campaignId);
    const next = change(current);
    try {
      return { ...next, version: await store.writeManifest(next, current?.version) };
    } catch (err) {
      // Each conflict means another writer made progress; a bound keeps a bug from spinning for ever.
      if (!(err instanceof CampaignStoreConflictError) || attempt >= 50) throw err;
    }
  }
}

/** The manifest as data, without the store's version. */
export function manifestData(manifest: CampaignManifest | StoredManifest): CampaignManifest {
  const { version: _version, ...data } = manifest as StoredManifest;
  return data;
}

/** `value` as a Temporal payload through the codecs (encrypted), as bytes: how pages and failures are stored. */
export async function seal(codecs: readonly PayloadCodec[], value: unknown): Promise<Uint8Array> {
  let payloads: Payload[] = [defaultPayloadConverter.toPayload(value)];
  for (const codec of codecs) payloads = await codec.encode(payloads);
  return PayloadMessage.encode(payloads[0] ?? {}).finish();
}

export async function unseal<T>(codecs: readonly PayloadCodec[], bytes: Uint8Array): Promise<T> {
  let payloads: Payload[] = [PayloadMessage.decode(bytes)];
  for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
  return defaultPayloadConverter.fromPayload<T>(payloads[0] ?? {});
}

/** Opens a stored page; anything wrong with its bytes is {@link CampaignPageMissingError} (`unreadable`). */
export async function unsealPage(
  codecs: readonly PayloadCodec[],
  bytes: Uint8Array,
  at: { issuerId: string; campaignId: string; page: number },
): Promise<CampaignCard[]> {
  try {
    const cards = await unseal<unknown>(codecs, bytes);
    if (!Array.isArray(cards)) throw new TypeError('a page is an array of cards');
    return cards as CampaignCard[];
  } catch (err) {
    throw new CampaignPageMissingError(at.issuerId, at.campaignId, at.page, 'unreadable', { cause: err });
  }
}

const MANIFEST_VERSION_FILE = /^manifest-(\d{12})\.json$/;

/**
 * The embedded store: a folder per campaign under `root`, readable by the owner only. Each manifest version is a file
 * of its own (`manifest-000000000007.json`), created with link(2), which fails when the name exists: of two writers of
 * the same version exactly one wins, on a local disk and on NFS alike.
 */
export class FileCampaignPageStore implements CampaignPageStore {
  constructor(
    private readonly root: string,
    private readonly codecs: readonly PayloadCodec[],
  ) {}

  async readManifest(issuerId: string, campaignId: string): Promise<StoredManifest | undefined> {
    const folder = this.folder(issuerId, campaignId);
    const version = await this.manifestVersion(folder);
    if (version === undefined) return undefined;
    try {
      const data = JSON.parse(await readFile(path.join(folder, manifestName(version)), 'utf8')) as CampaignManifest;
      return { ...data, version };
    } catch (err) {
      // Pruned by a writer between our listing and our read: a newer one exists.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.readManifest(issuerId, campaignId);
      throw err;
    }
  }

  async writeManifest(manifest: CampaignManifest, expectedVersion: number | undefined): Promise<number> {
    const { issuerId, campaignId } = manifest;
    const folder = this.folder(issuerId, campaignId);
    if ((await this.manifestVersion(folder)) !== expectedVersion) {
      throw new CampaignStoreConflictError(issuerId, campaignId);
    }
    const version = (expectedVersion ?? 0) + 1;
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const temporary = path.join(folder, `manifest.${randomUUID()}.tmp`);
    await writeFile(temporary, JSON.stringify(manifestData(manifest)), { mode: 0o600 });
    try {
      await link(temporary, path.join(folder, manifestName(version)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CampaignStoreConflictError(issuerId, campaignId);
      throw err;
    } finally {
      await unlink(temporary);
    }
    // Old versions are never read again (a reader between listing and reading retries), but a name freed too soon
    // could be linked again by a writer that checked long ago and stalled: its write would land under the newest
    // version and be lost (seen under load: 1 of 10 racing additions). Kept for MANIFEST_VERSIONS_KEPT writes, the name a
    // stale writer wants still exists unless it stalled through that many writes of others.
    if (version > MANIFEST_VERSIONS_KEPT) {
      await rm(path.join(folder, manifestName(version - MANIFEST_VERSIONS_KEPT)), { force: true });
    }
    return version;
  }

  async hasPage(issuerId: string, campaignId: string, index: number): Promise<boolean> {
    try {
      await stat(this.file(issuerId, campaignId, pageName(index)));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async writePage(issuerId: string, campaignId: string, index: number, cards: readonly CampaignCard[]) {
    await this.writeAtomically(this.file(issuerId, campaignId, pageName(index)), await seal(this.codecs, cards));
  }

  async readPage(issuerId: string, campaignId: string, index: number): Promise<CampaignCard[]> {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(this.file(issuerId, campaignId, pageName(index)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      throw new CampaignPageMissingError(issuerId, campaignId, index, 'missing', { cause: err });
    }
    return unsealPage(this.codecs, bytes, { issuerId, campaignId, page: index });
  }

  /** Failures are sealed like pages: D1's free-text reasons could name what they refused. */
  async writeFailures(issuerId: string, campaignId: string, index: number, failures: readonly CampaignCardFailure[]) {
    await this.writeAtomically(this.file(issuerId, campaignId, failuresName(index)), await seal(this.codecs, failures));
  }

  async readFailures(issuerId: string, campaignId: string): Promise<CampaignCardFailure[]> {
    const folder = this.folder(issuerId, campaignId);
    const names = (await readdir(folder).catch(() => [] as string[])).filter((n) => /^failures-\d+\.bin$/.test(n));
    const pages = await Promise.all(
      names
        .sort()
        .map(async (name) => unseal<CampaignCardFailure[]>(this.codecs, await readFile(path.join(folder, name)))),
    );
    return pages.flat();
  }

  async readPageFailures(issuerId: string, campaignId: string, index: number): Promise<CampaignCardFailure[]> {
    try {
      return await unseal(this.codecs, await readFile(this.file(issuerId, campaignId, failuresName(index))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async listCampaigns(): Promise<StoredCampaign[]> {
    const campaigns: StoredCampaign[] = [];
    for (const issuerId of await readdir(this.root).catch(() => [] as string[])) {
      for (const campaignId of await readdir(path.join(this.root, issuerId)).catch(() => [] as string[])) {
        const folder = this.folder(issuerId, campaignId);
        const version = await this.manifestVersion(folder);
        if (version === undefined) continue;
        const [{ mtime }, names] = await Promise.all([stat(path.join(folder, manifestName(version))), readdir(folder)]);
        const pages = names.filter((n) => /^page-\d+\.bin$/.test(n)).length;
        campaigns.push({ issuerId, campaignId, updatedAt: mtime, pages });
      }
    }
    return campaigns;
  }

  async deletePages(issuerId: string, campaignId: string): Promise<number> {
    const folder = this.folder(issuerId, campaignId);
    const pages = (await readdir(folder).catch(() => [] as string[])).filter((n) => /^page-\d+\.bin$/.test(n));
    await Promise.all(pages.map((name) => rm(path.join(folder, name), { force: true })));
    return pages.length;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The newest manifest version in `folder`; a manifest.json of an older release counts as version 0. */
  private async manifestVersion(folder: string): Promise<number | undefined> {
    const names = await readdir(folder).catch(() => [] as string[]);
    let newest: number | undefined = names.includes('manifest.json') ? 0 : undefined;
    for (const name of names) {
      const match = MANIFEST_VERSION_FILE.exec(name);
      if (match) newest = Math.max(newest ?? 0, Number(match[1]));
    }
    return newest;
  }

  private folder(issuerId: string, campaignId: string): string {
    return path.dirname(this.file(issuerId, campaignId, 'manifest.json'));
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

/** How many manifest versions the folder store keeps: the prune's distance from the newest. */
const MANIFEST_VERSIONS_KEPT = 100;

function manifestName(version: number): string {
  return version === 0 ? 'manifest.json' : `manifest-${String(version).padStart(12, '0')}.json`;
}

function pageName(index: number): string {
  return `page-${String(index).padStart(6, '0')}.bin`;
}

function failuresName(index: number): string {
  return `failures-${String(index).padStart(6, '0')}.bin`;
}
