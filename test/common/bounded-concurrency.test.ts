import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { forEachBounded, mapBounded } from '../../common/bounded-concurrency.js';

/** A task that records how many run at once and finishes after a few turns of the event loop. */
function gauge() {
  let now = 0;
  let most = 0;
  const started: number[] = [];
  const task = async (item: number, index: number): Promise<number> => {
    started.push(index);
    now += 1;
    most = Math.max(most, now);
    for (let i = 0; i < 1 + (item % 3); i++) await tick();
    now -= 1;
    return item * 10;
  };
  return { task, started, most: () => most };
}

async function* numbers(count: number, onClose?: () => void) {
  try {
    for (let i = 0; i < count; i++) {
      await tick();
      yield i;
    }
  } finally {
    onClose?.();
  }
}

describe('bounded concurrency', () => {
  it('runs every item, at most `limit` at once, starting them in order, results at their index', async () => {
    const { task, started, most } = gauge();
    const items = Array.from({ length: 20 }, (_, i) => i);
    assert.deepEqual(
      await mapBounded(items, 4, task),
      items.map((i) => i * 10),
    );
    assert.equal(most(), 4);
    assert.deepEqual(started, items);
  });

  it('reads an async iterable one item at a time, within the limit', async () => {
    const { task, most } = gauge();
    const seen: number[] = [];
    await forEachBounded(numbers(12), 3, async (item, index) => {
      assert.equal(item, index);
      seen.push(await task(item, index));
    });
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      Array.from({ length: 12 }, (_, i) => i * 10),
    );
    assert.ok(most() <= 3);
  });

  it('does nothing for no items, and refuses a limit below 1', async () => {
    assert.deepEqual(await mapBounded([], 5, () => Promise.reject(new Error('not called'))), []);
    await assert.rejects(
      forEachBounded([1], 0, async () => {}),
      RangeError,
    );
  });

  it('after a failure starts no more items, lets the started ones finish, then throws the first failure', async () => {
    const started: number[] = [];
    let finished = 0;
    const run = forEachBounded(
      Array.from({ length: 10 }, (_, i) => i),
      2,
      async (item) => {
        started.push(item);
        for (let i = 0; i <= item; i++) await tick();
        if (item === 1) throw new Error('first');
        if (item === 2) throw new Error('second');
        finished += 1;
      },
    );
    await assert.rejects(run, { message: 'first' });
    assert.deepEqual(started, [0, 1, 2]);
    assert.equal(finished, 1);
  });

  it('with afterFailure continue runs every item, then throws the first failure', async () => {
    const ran: number[] = [];
    const run = forEachBounded(
      Array.from({ length: 6 }, (_, i) => i),
      2,
      async (item) => {
        ran.push(item);
        await tick();
        if (item % 2 === 1) throw new Error(`item ${item}`);
      },
      { afterFailure: 'continue' },
    );
    await assert.rejects(run, { message: 'item 1' });
    assert.deepEqual(ran, [0, 1, 2, 3, 4, 5]);
  });

  it('a task that throws before its first await counts as a failed item', async () => {
    const run = forEachBounded([1, 2], 2, (item) => {
      if (item === 1) throw new Error('sync');
      return Promise.resolve();
    });
    await assert.rejects(run, { message: 'sync' });
  });

  it('starts nothing once the signal aborts, and resolves after the started items', async () => {
    const controller = new AbortController();
    const started: number[] = [];
    let finished = 0;
    await forEachBounded(
      Array.from({ length: 10 }, (_, i) => i),
      3,
      async (item) => {
        started.push(item);
        if (item === 4) controller.abort();
        await tick();
        finished += 1;
      },
      { signal: controller.signal },
    );
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.equal(finished, 5);
  });

  it('closes an async source it stops reading, and throws when reading it fails', async () => {
    let closed = false;
    await assert.rejects(
      forEachBounded(
        numbers(100, () => (closed = true)),
        2,
        async (item) => {
          await tick();
          if (item === 3) throw new Error('stop');
        },
      ),
      { message: 'stop' },
    );
    assert.ok(closed);

    async function* broken() {
      yield await Promise.resolve(1);
      throw new Error('source failed');
    }
    const done: number[] = [];
    await assert.rejects(
      forEachBounded(broken(), 2, async (item) => {
        await tick();
        done.push(item);
      }),
      { message: 'source failed' },
    );
    assert.deepEqual(done, [1]);
  });
});
