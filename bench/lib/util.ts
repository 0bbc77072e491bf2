/**
 * Small helpers every benchmark shares: progress lines, percentiles, free ports (bounded concurrency is
 * `mapBounded` of common/bounded-concurrency.ts).
 *
 * @module
 */
import { setTimeout as delay } from 'node:timers/promises';

export { delay };

const startedAt = Date.now();

/** A progress line on stderr, stamped with the seconds since the run began. */
export function progress(message: string): void {
  process.stderr.write(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

/** The `p`-th percentile (0 to 100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Rounds to `digits` significant decimals, for tables and JSON. */
export function round(value: number, digits = 3): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}

/** Re-evaluates `probe` until it is truthy; fails after `timeoutMs` naming `what`. */
export async function waitUntil(
  probe: () => Promise<boolean> | boolean,
  { timeoutMs, intervalMs = 250, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await delay(intervalMs);
  }
}

export { freePort } from '../../scripts/lib/ports.js';

/** A rate from a count and a duration in ms. */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : Number.NaN;
}

/** A lane that runs the tasks given to it one at a time, in the order they were given. */
export function serialLane(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (task) => {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  };
}
