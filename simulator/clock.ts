/**
 * Time and timers of the simulator, injected so tests can move time (token expiry) without sleeping.
 *
 * @module
 */

/** A scheduled callback that can be called off. */
export interface Timer {
  cancel(): void;
}

/** The simulator's only source of "now" and of delays. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `ms` milliseconds. */
  schedule(ms: number, callback: () => void): Timer;
}

/** Wall-clock time and Node timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, callback) {
    const handle = setTimeout(callback, ms);
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Resolves after `ms` on `clock`, or at once when `signal` aborts (so shutdown never waits for a backoff). */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = () => {
      timer.cancel();
      resolve();
    };
    const timer = clock.schedule(ms, () => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
