/**
 * Durations as people write them in settings and options (`500ms`, `30s`, `5m`, `2h`, `7d`).
 *
 * @module
 */
import { z } from 'zod';

const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** A duration such as `500ms`, `30s`, `5m`, `2h` or `7d`, turned into milliseconds. */
export const durationMs = z
  .string()
  .regex(durationPattern, 'must be a duration such as 500ms, 30s, 5m, 2h or 7d')
  .transform((value) => {
    const [, amount, unit] = durationPattern.exec(value) as unknown as [string, string, keyof typeof unitMs];
    return Math.round(Number(amount) * unitMs[unit]);
  });
