/**
 * Keeps an activity's heartbeat going while it waits on I/O, so that a slow D1 answer never times the activity out
 * (which would repeat its request), a cancel reaches it (through the context's cancellation signal, which our D1
 * calls pass to undici), and a dead worker is noticed within the heartbeat timeout.
 *
 * @module
 */
import { Context } from '@temporalio/activity';

const HEARTBEAT_EVERY_MS = 5_000;
const MIN_HEARTBEAT_EVERY_MS = 50;

/**
 * How often to heartbeat: well within the activity's heartbeat timeout, whatever its caller set. The SDK throttles
 * what reaches the server (at most once per 80% of the timeout), so beating often costs no server calls.
 */
export function heartbeatIntervalMs(heartbeatTimeoutMs: number | undefined): number {
  if (!heartbeatTimeoutMs) return HEARTBEAT_EVERY_MS;
  return Math.max(MIN_HEARTBEAT_EVERY_MS, Math.min(HEARTBEAT_EVERY_MS, Math.floor(heartbeatTimeoutMs / 4)));
}

/** Runs `work` with the activity's cancellation signal, heartbeating until it settles. */
export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const context = Context.current();
  context.heartbeat();
  const beat = setInterval(() => context.heartbeat(), heartbeatIntervalMs(context.info.heartbeatTimeoutMs));
  try {
    return await work(context.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}
