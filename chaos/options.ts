/**
 * The options of `npm run chaos`, from its command line: parsed by node:util, checked by one zod schema. `--quick`
 * picks a smaller mix and shorter phases; any option given beside it still wins.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { durationMs } from '../common/duration.js';
import { CliUsageError } from '../common/errors.js';

const chaosArgsSchema = z.strictObject({
  seed: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .optional(),
  orders: z.coerce.number().int().min(20).max(2_000).optional(),
  duration: durationMs.optional(),
  deadline: durationMs.optional(),
  workers: z.coerce.number().int().min(2).max(8).default(2),
  quick: z.boolean().default(false),
  stack: z.boolean().default(false),
  keep: z.boolean().default(false),
  'upgrade-from': z.string().min(1).max(200).optional(),
});

export interface ChaosOptions {
  /** Seeds every random choice of the run (the mix, the faults and their times), printed so a run can be repeated. */
  seed: number;
  /** Orders placed, campaign cards included. */
  orders: number;
  /** How long faults are injected, from the first order placed. */
  durationMs: number;
  /** How long, after the faults stop, orders have to reach their ends before the ones still open count as lost. */
  deadlineMs: number;
  workers: number;
  quick: boolean;
  /** Run on the production engine (PostgreSQL and the Temporal server, as `npm run stack`), killing both. */
  stack: boolean;
  /** Leave the run folder (logs, histories, report) when the run passes; a failed run's folder is always kept. */
  keep: boolean;
  /** A git ref whose workers start the run, rolled one by one to the current code while orders run. */
  upgradeFrom: string | undefined;
}

export const chaosUsage = `Usage: npm run chaos -- [options]

  --seed N           seed of every random choice (default: a random one, printed)
  --orders N         orders placed, campaign cards included (default 200; --quick 45)
  --duration D       how long faults are injected, e.g. 5m (default 4m; --quick 90s)
  --deadline D       how long orders then have to reach their ends (default 6m; --quick 3m)
  --workers N        worker processes, 2 to 8 (default 2)
  --quick            a smaller mix and shorter phases (about 3 minutes)
  --stack            run on PostgreSQL and the Temporal server (as npm run stack), killing both
  --keep             keep the run folder (logs, histories, report) after a passing run
  --upgrade-from REF start the workers from REF (a git worktree, installed by the suite) and roll
                     them to the current code one by one while orders run`;

/**
 * The options of `argv` (the arguments after `npm run chaos --`).
 *
 * @throws {CliUsageError} naming the option that is unknown or invalid.
 */
export function parseChaosOptions(argv: readonly string[]): ChaosOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        seed: { type: 'string' },
        orders: { type: 'string' },
        duration: { type: 'string' },
        deadline: { type: 'string' },
        workers: { type: 'string' },
        quick: { type: 'boolean' },
        stack: { type: 'boolean' },
        keep: { type: 'boolean' },
        'upgrade-from': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new CliUsageError('(arguments)', (err as Error).message);
  }
  const parsed = chaosArgsSchema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliUsageError(`--${String(issue?.path[0] ?? '(arguments)')}`, issue?.message ?? 'invalid');
  }
  const args = parsed.data;
  return {
    seed: args.seed ?? randomInt(2 ** 32 - 1),
    orders: args.orders ?? (args.quick ? 45 : 200),
    durationMs: args.duration ?? (args.quick ? 90_000 : 240_000),
    deadlineMs: args.deadline ?? (args.quick ? 180_000 : 360_000),
    workers: args.workers,
    quick: args.quick,
    stack: args.stack,
    keep: args.keep,
    upgradeFrom: args['upgrade-from'],
  };
}
