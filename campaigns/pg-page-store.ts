/**
 * The shared campaign store: PostgreSQL (`CAMPAIGN_STORE=postgres`), which the CLI and every worker machine reach
 * over the network, where the folder store needs one disk. Pages and failure records are the same sealed bytes as
 * in the folder store (the payload codec's AES-256-GCM), in `bytea` columns; the manifest (ids and counts, no card
 * data) is `jsonb` with a version column, written only by compare-and-set. The tables are created by
 * {@link setUpCampaignStore}, the stack's setup step (`npm run campaign:store-setup`), never on the fly.
 *
 * @module
 */
import type { PayloadCodec } from '@temporalio/common';
import pg from 'pg';
import { CampaignPageMissingError, CampaignStoreConflictError } from './errors.js';
import {
  manifestData,
  seal,
  unseal,
  unsealPage,
  type CampaignCard,
  type CampaignCardFailure,
  type CampaignManifest,
  type CampaignPageStore,
  type StoredCampaign,
  type StoredManifest,
} from './page-store.js';

/** How to reach the database; the password never appears in a message of ours. */
export interface PostgresStoreSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string | undefined;
  /** TLS to the server (`sslmode=require` in the URL); verified against the system CAs. */
  ssl: boolean;
  /** Connections per process. */
  maxConnections: number;
}

/** The schema, idempotent: every statement may run again on a set-up database. */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS campaign_manifests (
     issuer_id text NOT NULL,
     campaign_id text NOT NULL,
     version bigint NOT NULL,
     manifest jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (issuer_id, campaign_id))`,
  `CREATE TABLE IF NOT EXISTS campaign_pages (
     issuer_id text NOT NULL,
     campaign_id text NOT NULL,
     page integer NOT NULL,
     sealed bytea NOT NULL,
     PRIMARY KEY (issuer_id, campaign_id, page))`,
  `CREATE TABLE IF NOT EXISTS campaign_failures (
     issuer_id text NOT NULL,
     campaign_id text NOT NULL,
     page integer NOT NULL,
     sealed bytea NOT NULL,
     PRIMARY KEY (issuer_id, campaign_id, page))`,
];

/** Any number, the same for every process: setups racing each other take turns. */
const SETUP_LOCK = 0x0d1ca9;

function poolOf(settings: PostgresStoreSettings, database = settings.database): pg.Pool {
  return new pg.Pool({
    host: settings.host,
    port: settings.port,
    database,
    user: settings.user,
    ...(settings.password !== undefined && { password: settings.password }),
    ...(settings.ssl && { ssl: { rejectUnauthorized: true } }),
    max: settings.maxConnections,
    connectionTimeoutMillis: 10_000,
    // Idle connections close, so a CLI run does not hold the server's slots.
    idleTimeoutMillis: 10_000,
  });
}

/** Whether `err` is PostgreSQL's "database does not exist". */
function isMissingDatabase(err: unknown): boolean {
  return (err as { code?: unknown }).code === '3D000';
}

/**
 * Creates the database (when the user may and it is missing) and the store's tables; changes nothing on a database
 * already set up. Resolves to what it did.
 */
export async function setUpCampaignStore(settings: PostgresStoreSettings): Promise<'created' | 'present'> {
  let created = false;
  let pool = poolOf(settings);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end();
    if (!isMissingDatabase(err)) throw err;
    const admin = poolOf(settings, 'postgres');
    try {
      // An identifier cannot be a parameter; escapeIdentifier quotes it.
      await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(settings.database)}`).catch((createErr: unknown) => {
        // Another setup created it meanwhile.
        if ((createErr as { code?: unknown }).code !== '42P04') throw createErr;
      });
    } finally {
      await admin.end();
    }
    created = true;
    pool = poolOf(settings);
  }
  try {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK]);
      const { rows } = await client.query<{ present: boolean }>(
        `SELECT to_regclass('campaign_failures') IS NOT NULL AS present`,
      );
      if (!rows[0]?.present) {
        for (const statement of SCHEMA) await client.query(statement);
        created = true;
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
  return created ? 'created' : 'present';
}

interface ManifestRow {
  version: string;
  manifest: CampaignManifest;
}

export class PostgresCampaignPageStore implements CampaignPageStore {
  private readonly pool: pg.Pool;

  constructor(
    settings: PostgresStoreSettings,
    private readonly codecs: readonly PayloadCodec[],
  ) {
    this.pool = poolOf(settings);
    // An idle connection the server drops (a restart) is replaced on the next query; without a listener the
    // error would end the process.
    this.pool.on('error', () => undefined);
  }

  async readManifest(issuerId: string, campaignId: string): Promise<StoredManifest | undefined> {
    const { rows } = await this.pool.query<ManifestRow>(
      'SELECT version, manifest FROM campaign_manifests WHERE issuer_id = $1 AND campaign_id = $2',
      [issuerId, campaignId],
    );
    const row = rows[0];
    return row && { ...row.manifest, version: Number(row.version) };
  }

  async writeManifest(manifest: CampaignManifest, expectedVersion: number | undefined): Promise<number> {
    const { issuerId, campaignId } = manifest;
    const data = JSON.stringify(manifestData(manifest));
    // Compare-and-set: the insert finds its key taken, or the update finds another version; no row comes back.
    const { rows } =
      expectedVersion === undefined
        ? await this.pool.query<{ version: string }>(
            `INSERT INTO campaign_manifests (issuer_id, campaign_id, version, manifest) VALUES ($1, $2, 1, $3)
             ON CONFLICT (issuer_id, campaign_id) DO NOTHING RETURNING version`,
            [issuerId, campaignId, data],
          )
        : await this.pool.query<{ version: string }>(
            `UPDATE campaign_manifests SET version = version + 1, manifest = $3, updated_at = now()
             WHERE issuer_id = $1 AND campaign_id = $2 AND version = $4 RETURNING version`,
            [issuerId, campaignId, data, expectedVersion],
          );
    const written = rows[0];
    if (!written) throw new CampaignStoreConflictError(issuerId, campaignId);
    return Number(written.version);
  }

  async hasPage(issuerId: string, campaignId: string, index: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'SELECT 1 FROM campaign_pages WHERE issuer_id = $1 AND campaign_id = $2 AND page = $3',
      [issuerId, campaignId, index],
    );
    return (rowCount ?? 0) > 0;
  }

  async writePage(issuerId: string, campaignId: string, index: number, cards: readonly CampaignCard[]) {
    await this.upsert('campaign_pages', issuerId, campaignId, index, await seal(this.codecs, cards));
  }

  async readPage(issuerId: string, campaignId: string, index: number): Promise<CampaignCard[]> {
    const { rows } = await this.pool.query<{ sealed: Buffer }>(
      'SELECT sealed FROM campaign_pages WHERE issuer_id = $1 AND campaign_id = $2 AND page = $3',
      [issuerId, campaignId, index],
    );
    const row = rows[0];
    if (!row) throw new CampaignPageMissingError(issuerId, campaignId, index, 'missing');
    return unsealPage(this.codecs, row.sealed, { issuerId, campaignId, page: index });
  }

  async writeFailures(issuerId: string, campaignId: string, index: number, failures: readonly CampaignCardFailure[]) {
    await this.upsert('campaign_failures', issuerId, campaignId, index, await seal(this.codecs, failures));
  }

  async readFailures(issuerId: string, campaignId: string): Promise<CampaignCardFailure[]> {
    const { rows } = await this.pool.query<{ sealed: Buffer }>(
      'SELECT sealed FROM campaign_failures WHERE issuer_id = $1 AND campaign_id = $2 ORDER BY page',
      [issuerId, campaignId],
    );
    const pages = await Promise.all(rows.map((row) => unseal<CampaignCardFailure[]>(this.codecs, row.sealed)));
    return pages.flat();
  }

  async readPageFailures(issuerId: string, campaignId: string, index: number): Promise<CampaignCardFailure[]> {
    const { rows } = await this.pool.query<{ sealed: Buffer }>(
      'SELECT sealed FROM campaign_failures WHERE issuer_id = $1 AND campaign_id = $2 AND page = $3',
      [issuerId, campaignId, index],
    );
    return rows[0] ? unseal<CampaignCardFailure[]>(this.codecs, rows[0].sealed) : [];
  }

  async listCampaigns(): Promise<StoredCampaign[]> {
    const { rows } = await this.pool.query<{
      issuer_id: string;
      campaign_id: string;
      updated_at: Date;
      pages: string;
    }>(
      `SELECT m.issuer_id, m.campaign_id, m.updated_at,
              (SELECT count(*) FROM campaign_pages p
                WHERE p.issuer_id = m.issuer_id AND p.campaign_id = m.campaign_id) AS pages
         FROM campaign_manifests m ORDER BY m.issuer_id, m.campaign_id`,
    );
    return rows.map((row) => ({
      issuerId: row.issuer_id,
      campaignId: row.campaign_id,
      updatedAt: row.updated_at,
      pages: Number(row.pages),
    }));
  }

  async deletePages(issuerId: string, campaignId: string): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM campaign_pages WHERE issuer_id = $1 AND campaign_id = $2', [
      issuerId,
      campaignId,
    ]);
    return rowCount ?? 0;
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  /** Writes whole or not at all (one statement); a second attempt at the page replaces the first. */
  private async upsert(
    table: 'campaign_pages' | 'campaign_failures',
    issuerId: string,
    campaignId: string,
    index: number,
    sealed: Uint8Array,
  ): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${table} (issuer_id, campaign_id, page, sealed) VALUES ($1, $2, $3, $4)
       ON CONFLICT (issuer_id, campaign_id, page) DO UPDATE SET sealed = EXCLUDED.sealed`,
      [issuerId, campaignId, index, Buffer.from(sealed)],
    );
  }
}
