/**
 * Runs async work over many items, a bounded number at a time: the one helper for every fan-out of this project
 * (signals to orders, D1 status calls, campaign cards, benchmark requests).
 *
 * @module
 */

/** How a bounded run reacts to a failed item and to cancellation. */
export interface BoundedOptions {
  /**
   * After an item fails: `stop` (the default) starts no further item, `continue` runs every remaining one. Either
   * way the run waits for the items already started, then rejects with the first failure.
   */
  afterFailure?: 'stop' | 'continue';
  /**
   * Once aborted, no further item starts; the items already started finish (give them the signal too to end them
   * early). The run then resolves as usual: the caller decides what an aborted run means.
   */
  signal?: AbortSignal;
}

/**
 * Runs `task` for each item of `items` (an array, any iterable, or an async iterable read one item at a time), at
 * most `limit` at once, in the items' order of start. Resolves once every started item has settled.
 *
 * @throws {RangeError} when `limit` is not at least 1.
 * @throws the first failure of an item (or of reading `items`), once every started item has settled.
 */
export async function forEachBounded<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  task: (item: T, index: number) => Promise<unknown>,
  options: BoundedOptions = {},
): Promise<void> {
  if (!(limit >= 1)) throw new RangeError(`limit must be at least 1, not ${limit}`);
  // Nothing to run (a routing step with no work, say): no iterator and no waiting.
  if (Array.isArray(items) && items.length === 0) return;
  const { signal, afterFailure = 'stop' } = options;
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  const halted = () => signal?.aborted === true || (failure !== undefined && afterFailure === 'stop');

  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  let exhausted = false;
  try {
    for (let index = 0; !halted(); index++) {
      while (running.size >= limit) await Promise.race(running);
      if (halted()) break;
      const next = await iterator.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const started: Promise<void> = (async () => task(next.value, index))().then(
        () => undefined,
        (error: unknown) => void (failure ??= { error }),
      );
      const settled = started.finally(() => running.delete(settled));
      running.add(settled);
    }
  } catch (error) {
    // Reading the items failed: like a failed item, what was started still finishes first.
    exhausted = true;
    failure ??= { error };
  }
  await Promise.all(running);
  if (!exhausted) {
    // Stopped early: let the source close (an async generator's paging, say).
    try {
      await iterator.return?.();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

/**
 * Like {@link forEachBounded}, and collects each item's result at the item's index (items not run, after a stop
 * or an abort, leave holes).
 */
export async function mapBounded<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  task: (item: T, index: number) => Promise<R>,
  options: BoundedOptions = {},
): Promise<R[]> {
  const results: R[] = [];
  await forEachBounded(items, limit, async (item, index) => void (results[index] = await task(item, index)), options);
  return results;
}
