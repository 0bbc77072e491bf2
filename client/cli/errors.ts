/**
 * How the command line reports what went wrong: one line per error on stderr (JSON with `--json`), and the exit code
 * its kind stands for (see the exit codes in `usage.ts`).
 *
 * @module
 */
import { isCardOrderError, type CliUsageError, type ReplayInputError } from '../../common/errors.js';
import type { CampaignAlreadyRanError, CampaignConflictError, CampaignFileError } from '../../campaigns/errors.js';
import type { OrderConflictError } from '../../orders/errors.js';
import type { CliIo } from './context.js';
import { usage } from './usage.js';

/** Reports a usage error: its code and message (with the usage, unless --json), exit code 2. */
export function usageFailure(io: CliIo, err: CliUsageError, json: boolean): number {
  io.err(
    json
      ? JSON.stringify({ code: err.code, message: err.message, argument: err.argument })
      : `${err.code}: ${err.message}\n\n${usage}`,
  );
  return 2;
}

/** Reports what a command threw, and returns its exit code: 2 invalid input, 3 a conflict, else 1. */
export function reportFailure(io: CliIo, err: unknown, { command, json }: { command: string; json: boolean }): number {
  if (isCardOrderError(err) && err.code === 'ERR_USAGE') return usageFailure(io, err as CliUsageError, json);
  if (isCardOrderError(err) && (err.code === 'ERR_ORDER_INVALID' || err.code === 'ERR_CONFIG_INVALID')) {
    const { issues } = err as unknown as { issues: unknown[] };
    io.err(json ? JSON.stringify({ code: err.code, message: err.message, issues }) : `${err.code}: ${err.message}`);
    return 2;
  }
  if (isCardOrderError(err) && err.code === 'ERR_CAMPAIGN_FILE_INVALID') {
    // Each bad line by number and field, never a value (the error holds the first ones).
    const { invalid, lines } = err as CampaignFileError;
    if (json) io.err(JSON.stringify({ code: err.code, message: err.message, invalid, lines }));
    else if (lines.length === 0) io.err(`${err.code}: ${err.message}`);
    else {
      for (const l of lines) {
        io.err(`${err.code}: line ${l.line}: ${l.issues.map((i) => `${i.field} ${i.reason}`).join('; ')}`);
      }
      if (invalid > lines.length) io.err(`${err.code}: and ${invalid - lines.length} more invalid line(s)`);
    }
    return 2;
  }
  if (isCardOrderError(err) && err.code === 'ERR_REPLAY_INPUT') {
    // Each file and why, never its contents; nothing was replayed.
    const { problems } = err as ReplayInputError;
    if (json) io.err(JSON.stringify({ code: err.code, message: err.message, problems }));
    else for (const p of problems) io.err(`${err.code}: ${p.file}: ${p.reason}`);
    return 2;
  }
  if (command === 'replay' && isCardOrderError(err) && err.code === 'ERR_CODEC_KEY') {
    // The key ring cannot be read: nothing was replayed, like a wrong input.
    io.err(json ? JSON.stringify({ code: err.code, message: err.message }) : `${err.code}: ${err.message}`);
    return 2;
  }
  if (isCardOrderError(err) && err.code === 'CAMPAIGN_CONFLICT') {
    const { campaignId } = err as CampaignConflictError;
    io.err(json ? JSON.stringify({ code: err.code, message: err.message, campaignId }) : `${err.code}: ${err.message}`);
    return 3;
  }
  if (isCardOrderError(err) && err.code === 'CAMPAIGN_ALREADY_RAN') {
    const { campaignId, ended, startedAt } = err as CampaignAlreadyRanError;
    io.err(
      json
        ? JSON.stringify({ code: err.code, message: err.message, campaignId, ended, startedAt })
        : `${err.code}: ${err.message}`,
    );
    return 3;
  }
  if (isCardOrderError(err) && err.code === 'ORDER_CONFLICT') {
    const { fields, workflowId } = err as OrderConflictError;
    io.err(
      json
        ? JSON.stringify({ code: err.code, message: err.message, workflowId, fields })
        : `${err.code}: ${err.message}`,
    );
    return 3;
  }
  const code = isCardOrderError(err) ? err.code : (err as Error).name;
  io.err(json ? JSON.stringify({ code, message: (err as Error).message }) : `${code}: ${(err as Error).message}`);
  return 1;
}
