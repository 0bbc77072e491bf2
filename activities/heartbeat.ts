/**
 * Keeps an activity's heartbeat going while it waits on I/O, so that a cancel reaches it (through the context's
 * cancellation signal, which our D1 calls pass to undici) and a dead worker is noticed within the heartbeat timeout.
 *
 * @module
 */
import { Context } from '@temporalio/activity';

const HEARTBEAT_EVERY_MS = 5_000;

/** Runs `work` with the activity's cancellation signal, heartbeating until it settles. */
export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const context = Context.current();
  context.heartbeat();
  const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await work(context.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}
