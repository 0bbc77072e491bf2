/**
 * Reads a campaign file one card at a time, streamed (a 100,000-card file never sits in memory): JSONL, one
 * single-order JSON per line, or CSV, one card per row under a header of dotted field paths. What comes out is the
 * raw order object of each line with its line number, for the order schema to judge; a line that cannot even be
 * read (bad JSON, a CSV row with too many or too few fields) comes out as a problem, named by line and never echoed.
 *
 * CSV columns are the single order's fields as dotted paths: `issuerRequestId`, `cardId`, `consumerId`,
 * `cardProductId`, `services.issuance`, `services.delivery`, `shipment.type`, `shipment.deliveryAddress.line1`,
 * `sensitiveData.pan`, `packagingConfig.inserts.0` (a number is an array index), and so on. An empty cell is an
 * absent field. `services.pinMailer` and `services.alphaCard` read `true`/`false`. An INDIVIDUAL row with no
 * `shipment.individualAddress.*` cell ships to the cardholder at its delivery address.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

export const campaignFileFormats = ['csv', 'jsonl'] as const;
export type CampaignFileFormat = (typeof campaignFileFormats)[number];

/** One line of the file: the order it holds, or why it could not be read. */
export type CampaignLine = { line: number; record: unknown } | { line: number; problem: string };

/** The format a file's name says (`.csv`, `.jsonl`, `.ndjson`), or undefined. */
export function formatOfFile(file: string): CampaignFileFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

/** The file's lines, in order. Blank lines are skipped (they hold no card). */
export async function* readCampaignFile(file: string, format: CampaignFileFormat): AsyncGenerator<CampaignLine> {
  if (format === 'jsonl') yield* readJsonLines(file);
  else yield* readCsvRows(file);
}

async function* readJsonLines(file: string): AsyncGenerator<CampaignLine> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    try {
      yield { line, record: JSON.parse(text) as unknown };
    } catch {
      yield { line, problem: 'is not valid JSON' };
    }
  }
}

const booleanColumns = new Set(['services.pinMailer', 'services.alphaCard']);

async function* readCsvRows(file: string): AsyncGenerator<CampaignLine> {
  const parser = createReadStream(file).pipe(
    parse({ columns: true, relax_column_count: true, skip_empty_lines: true, bom: true, info: true, trim: true }),
  );
  for await (const { record, info } of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number; columns?: unknown[]; error?: { code?: string } };
  }>) {
    if (info.error) {
      yield { line: info.lines, problem: `does not have one field per column of the header (${info.columns?.length})` };
      continue;
    }
    const unsafe = Object.keys(record).find((column) => column.split('.').some((key) => unsafeKeys.has(key)));
    if (unsafe !== undefined) {
      yield { line: info.lines, problem: `has a column that names no order field (${unsafe})` };
      continue;
    }
    yield { line: info.lines, record: rowToOrder(record) };
  }
}

/** Path segments that would reach an object's prototype rather than a field of it. */
const unsafeKeys = new Set(['__proto__', 'constructor', 'prototype']);

/** A CSV row (dotted header → cell) as the single order's nested object. */
export function rowToOrder(row: Record<string, string>): Record<string, unknown> {
  const order: Record<string, unknown> = {};
  for (const [column, cell] of Object.entries(row)) {
    if (cell === '') continue;
    const value = booleanColumns.has(column) && (cell === 'true' || cell === 'false') ? cell === 'true' : cell;
    setPath(order, column.split('.'), value);
  }
  const shipment = order.shipment as Record<string, unknown> | undefined;
  if (shipment?.type === 'INDIVIDUAL' && shipment.individualAddress === undefined) {
    shipment.individualAddress = shipment.deliveryAddress;
  }
  return order;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node: Record<string, unknown> | unknown[] = target;
  path.forEach((key, i) => {
    const last = i === path.length - 1;
    const slot = node as Record<string, unknown>;
    if (last) {
      slot[key] = value;
      return;
    }
    slot[key] ??= /^\d+$/.test(path[i + 1] ?? '') ? [] : {};
    node = slot[key] as Record<string, unknown>;
  });
}
