/**
 * The worker: what it runs at once and caches, the D1 rate limit, and the reconciliation. One part of the environment
 * schema (../env-schema.ts).
 *
 * @module
 */
import { z } from 'zod';
import { cronExpressionIssue } from '../../common/cron.js';

export const workerEnv = {
  /** Activities one worker runs at once. @default 50 */
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce
    .number()
    .int()
    .min(1)
    .max(2000)
    .default(50)
    .describe('Activities one worker runs at once.'),
  /** Workflow tasks one worker runs at once. @default 40 */
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce
    .number()
    .int()
    .min(2)
    .max(2000)
    .default(40)
    .describe('Workflow tasks one worker runs at once.'),
  /**
   * Workflows one worker keeps in memory between their tasks (the sticky cache). An order waits hours to days
   * between tasks, so caching more of them buys little (one replay of a short history when its next task comes)
   * and costs memory (the SDK plans for about 600 per GB of heap; 1,000 took a worker past 1 GB under a 100,000-card
   * campaign). Load tests, where each card is busy every few seconds, want more.
   * @default 500
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int()
    .min(2)
    .max(100_000)
    .default(500)
    .describe(
      'Workflows one worker keeps in memory between their tasks (the sticky cache; the rest replay when woken); at least `WORKER_MAX_CONCURRENT_WORKFLOW_TASKS`. An order waits hours to days between tasks, so caching more buys little and costs memory (the SDK plans about 600 per GB of heap; 1,000 took a worker past 1 GB under a 100,000-card campaign). Load tests, where each card is busy every few seconds, want more.',
    ),
  /** Calls per second to D1 across every worker of the task queue (a server-side limit); unset: none. */
  D1_RATE_LIMIT_PER_SECOND: z.coerce
    .number()
    .positive()
    .optional()
    .describe(
      'Calls per second to D1 across every worker of the task queue (a limit the Temporal server enforces); unset: none.',
    ),
  /**
   * When the reconciliation runs: a five-field cron expression (`minute hour day-of-month month day-of-week`),
   * always in UTC (no `CRON_TZ=`), e.g. `0 2 * * *` for 02:00 UTC every night. The worker keeps the Temporal
   * Schedule `reconcile-orders:{TEMPORAL_TASK_QUEUE}` to it at start; unset (the default), it deletes that Schedule.
   * @default unset (off)
   */
  RECONCILE_SCHEDULE: z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const issue = cronExpressionIssue(value);
      if (issue) ctx.addIssue({ code: 'custom', message: `must be a cron expression in UTC: ${issue}` });
    })
    .optional()
    .describe(
      'When the reconciliation runs: a five-field cron expression (`minute hour day-of-month month day-of-week`), always in UTC (no `CRON_TZ=`), e.g. `0 2 * * *` for 02:00 UTC every night. The worker keeps the Temporal Schedule `reconcile-orders:{TEMPORAL_TASK_QUEUE}` to it at start; unset (off), it deletes that Schedule.',
    ),
  /** Open orders the reconciliation reads per visibility page (one activity per page). @default 200 */
  RECONCILE_PAGE_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(200)
    .describe('Open orders the reconciliation reads per visibility page (one activity per page).'),
  /** D1 status calls at once while the reconciliation checks one page. @default 4 */
  RECONCILE_CONCURRENCY: z.coerce
    .number()
    .int()
    .min(1)
    .max(64)
    .default(4)
    .describe('D1 status calls at once while the reconciliation checks one page.'),
};
