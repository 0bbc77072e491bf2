/**
 * The command line's arguments: the one parser every command's options go through, and the checks of the values
 * that more than one command takes (`--limit`, `--every`, JSON files).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { durationMs } from '../../common/duration.js';
import { CliUsageError } from '../../common/errors.js';
import { OrderValidationError } from '../../orders/errors.js';

/**
 * Every option of every command, parsed at once: a command refuses the options it does not take itself, so that a
 * misplaced option is named rather than ignored.
 *
 * @throws {CliUsageError} for an unknown option or a missing value.
 */
export function parseCliArgs(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        file: { type: 'string' },
        status: { type: 'string' },
        limit: { type: 'string' },
        issuer: { type: 'string' },
        card: { type: 'string' },
        'request-id': { type: 'string' },
        replaces: { type: 'string' },
        'address-file': { type: 'string' },
        id: { type: 'string' },
        'skip-invalid': { type: 'boolean', default: false },
        pull: { type: 'boolean', default: false },
        wait: { type: 'boolean', default: false },
        'until-closed': { type: 'boolean', default: false },
        every: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new CliUsageError('(arguments)', (err as Error).message);
  }
}

/** The options' values, as `parseCliArgs` gives them. */
export type CliValues = ReturnType<typeof parseCliArgs>['values'];

/** The JSON in `file`; an unreadable file is an invalid input named by its option. */
export async function readJsonFile(option: string, file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    throw new OrderValidationError([
      { field: option, reason: `cannot read JSON from ${file}: ${(err as Error).message}` },
    ]);
  }
}

/** `--limit`: a positive whole number, or absent. */
export function parseLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const limit = Number(raw);
  if (!(/^[0-9]+$/.test(raw) && Number.isSafeInteger(limit) && limit > 0)) {
    throw new CliUsageError('--limit', 'must be a positive whole number');
  }
  return limit;
}

/** `--every`: a duration of at least a second, or absent. */
export function parseEvery(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = durationMs.safeParse(raw);
  if (!parsed.success || parsed.data < 1_000) {
    throw new CliUsageError('--every', 'must be a duration of at least 1s, such as 5s or 1m');
  }
  return parsed.data;
}
