/**
 * What the run left behind, checked: where each order ended, the D1 orders each card got (from the simulator's
 * records), every workflow history (task failures by cause, nondeterminism, whether the current code replays it
 * with `npm run replay`, whether the codec server decodes it), and card data in clear in any log or raw history.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { request } from 'undici';
import type { CardOrdersClient } from '../client/card-orders-client.js';
import { projectRoot } from '../config/config.js';
import { ENCRYPTED_ENCODING } from '../codec/payload-codec.js';
import type { OrderSummary } from '../simulator/order-records.js';
import { expectedD1Orders, type PlannedOrder, type Scenario } from './mix.js';

const { EventType, WorkflowTaskFailedCause } = proto.temporal.api.enums.v1;

export interface OrderEnd {
  issuerRequestId: string;
  scenario: Scenario;
  expected: string;
  /** The status it reached; `OPEN` when it was still running at the deadline, `UNREADABLE` when it could not be read. */
  actual: string;
}

export interface DuplicateOrder {
  cardId: string;
  scenario: Scenario | 'untracked';
  expected: number;
  d1Orders: number;
}

/** Where each order ended, read once the deadline passed. */
export async function readOrderEnds(client: CardOrdersClient, orders: readonly PlannedOrder[]): Promise<OrderEnd[]> {
  const ends: OrderEnd[] = [];
  for (const order of orders) {
    let actual: string;
    try {
      const reading = await client.getOrder(order.issuerRequestId);
      actual = reading.execution === 'RUNNING' ? 'OPEN' : reading.status;
    } catch (err) {
      actual = (err as { code?: string }).code === 'ORDER_NOT_FOUND' ? 'NEVER_PLACED' : 'UNREADABLE';
    }
    ends.push({ issuerRequestId: order.issuerRequestId, scenario: order.scenario, expected: order.expected, actual });
  }
  return ends;
}

/** Cards with more D1 orders than their kind makes, and D1 orders of cards the run never ordered. */
export function findDuplicates(orders: readonly PlannedOrder[], d1: readonly OrderSummary[]): DuplicateOrder[] {
  const byCard = new Map<string, Set<string>>();
  for (const order of d1) {
    const requests = byCard.get(order.cardId) ?? new Set<string>();
    requests.add(order.issuerRequestId);
    byCard.set(order.cardId, requests);
  }
  const planned = new Map(orders.map((order) => [order.cardId, order]));
  const duplicates: DuplicateOrder[] = [];
  for (const [cardId, requests] of byCard) {
    const order = planned.get(cardId);
    const expected = order ? expectedD1Orders[order.scenario] : 0;
    if (requests.size > expected) {
      duplicates.push({ cardId, scenario: order?.scenario ?? 'untracked', expected, d1Orders: requests.size });
    }
  }
  return duplicates;
}

export interface HistoryFindings {
  /** Histories exported to the run folder. */
  histories: number;
  workflowTaskFailures: Record<string, number>;
  /** Workflow tasks that failed on nondeterminism. */
  nondeterminism: string[];
  /**
   * Nondeterminism of a worker still on the older code (`--upgrade-from`) meeting a history the newer code wrote (a
   * behaviour marker it does not know): the refusal a mixed fleet is meant to make, retried on a newer worker.
   */
  olderCodeRefusals: string[];
}

/**
 * Where a workflow task failure goes: `nondeterminism`, `olderCodeRefusals` (reported by a worker identity of the
 * older code), or neither (another cause).
 */
export function nondeterminismKind(
  attributes: proto.temporal.api.history.v1.IWorkflowTaskFailedEventAttributes | null | undefined,
  olderCodeIdentities: ReadonlySet<string>,
): 'nondeterminism' | 'olderCodeRefusals' | undefined {
  const cause = WorkflowTaskFailedCause[attributes?.cause ?? 0] ?? '';
  const message = attributes?.failure?.message ?? '';
  if (cause !== 'WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR' && !/nondetermin/i.test(message)) return undefined;
  return olderCodeIdentities.has(attributes?.identity ?? '') ? 'olderCodeRefusals' : 'nondeterminism';
}

/** Exports every workflow history of the namespace into `dir` (as `npm run replay` reads them) and reads its faults. */
export async function exportHistories(
  temporal: Client,
  dir: string,
  olderCodeIdentities: ReadonlySet<string> = new Set(),
): Promise<HistoryFindings> {
  await mkdir(dir, { recursive: true });
  const findings: HistoryFindings = {
    histories: 0,
    workflowTaskFailures: {},
    nondeterminism: [],
    olderCodeRefusals: [],
  };
  for await (const { workflowId, history } of temporal.workflow.list().intoHistories({ concurrency: 4 })) {
    findings.histories += 1;
    const events = (history as proto.temporal.api.history.v1.IHistory).events ?? [];
    const runId = events[0]?.workflowExecutionStartedEventAttributes?.originalExecutionRunId ?? `${findings.histories}`;
    for (const event of events) {
      if (event.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) continue;
      const attributes = event.workflowTaskFailedEventAttributes;
      const cause = WorkflowTaskFailedCause[attributes?.cause ?? 0] ?? 'UNKNOWN';
      const name = cause.replace(/^WORKFLOW_TASK_FAILED_CAUSE_/, '');
      findings.workflowTaskFailures[name] = (findings.workflowTaskFailures[name] ?? 0) + 1;
      const kind = nondeterminismKind(attributes, olderCodeIdentities);
      const message = attributes?.failure?.message ?? '';
      if (kind) findings[kind].push(`${workflowId}: event ${String(event.eventId)}: ${message.slice(0, 200)}`);
    }
    const file = `${workflowId.replace(/[^\w.-]/g, '_')}__${runId}.json`;
    await writeFile(path.join(dir, file), historyToJSON(history as proto.temporal.api.history.v1.IHistory));
  }
  return findings;
}

export interface ReplayFindings {
  replayed: number;
  failed: string[];
  /** Set when the replay command itself could not run. */
  error?: string;
}

/** Runs `npm run replay -- <dir>` of the current code over the exported histories. */
export async function replayHistories(dir: string, env: Record<string, string>): Promise<ReplayFindings> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts/replay.ts'), dir], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const failed = out.split('\n').filter((line) => line.startsWith('FAIL '));
  const summary = /replayed (\d+) histories/.exec(out);
  if (!summary) return { replayed: 0, failed, error: `npm run replay exited ${code}: ${out.slice(-500)}` };
  return { replayed: Number(summary[1]), failed };
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** Every payload in a history's JSON, wherever it sits. */
function* payloadsIn(value: unknown): Generator<JsonPayload> {
  if (Array.isArray(value)) {
    for (const item of value) yield* payloadsIn(item);
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const metadata = record.metadata as { encoding?: unknown } | undefined;
    if (typeof metadata?.encoding === 'string') {
      yield record;
      return;
    }
    for (const child of Object.values(record)) yield* payloadsIn(child);
  }
}

const encodingOf = (payload: JsonPayload) => Buffer.from(payload.metadata?.encoding ?? '', 'base64').toString();

/** Histories with an encrypted payload the codec server would not decode (as Web UI asks it, by namespace). */
export async function checkCodecDecodes(dir: string, codecUrl: string, namespace: string): Promise<string[]> {
  const undecodable: string[] = [];
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.json'))) {
    const encrypted = [...payloadsIn(JSON.parse(await readFile(path.join(dir, file), 'utf8')))].filter(
      (payload) => encodingOf(payload) === ENCRYPTED_ENCODING,
    );
    for (let i = 0; i < encrypted.length; i += 200) {
      const response = await request(`${codecUrl}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-namespace': namespace },
        body: JSON.stringify({ payloads: encrypted.slice(i, i + 200) }),
      });
      const body = await response.body.text();
      if (response.statusCode !== 200) {
        undecodable.push(`${file}: ${response.statusCode} ${body.slice(0, 200)}`);
        break;
      }
    }
  }
  return undecodable;
}

export interface CardDataFinding {
  /** The file (log or history) where card data appeared in clear. */
  file: string;
  /** Which order's data, never the data itself. */
  order: string;
}

/** Every place a card's data (its PAN, a single order's name) appears in clear: log lines, raw histories. */
export async function findCardData(
  files: readonly string[],
  orders: readonly PlannedOrder[],
): Promise<CardDataFinding[]> {
  const findings: CardDataFinding[] = [];
  for (const file of files) {
    let text = await readFile(file, 'utf8');
    // A history's unencrypted payloads (search attributes, memos, anything left in clear) are base64 in its JSON.
    if (file.endsWith('.json')) {
      try {
        for (const payload of payloadsIn(JSON.parse(text))) {
          if (encodingOf(payload) !== ENCRYPTED_ENCODING && payload.data) {
            text += `\n${Buffer.from(payload.data, 'base64').toString()}`;
          }
        }
      } catch {
        // Not JSON: read as text only.
      }
    }
    for (const order of orders) {
      if (order.secrets.some((secret) => text.includes(secret))) {
        findings.push({ file: path.basename(file), order: order.issuerRequestId });
      }
    }
  }
  return findings;
}

/** The files under `dir`, recursively. */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}
