import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LATEST_ORDER_BEHAVIOUR, orderBehaviourMarkers, settleBehaviour } from '../../rules/card-order/behaviour.js';

/** `patched()` as a run sees it: true for the markers it has (a new run: every marker it asks for). */
function run(has: (marker: string) => boolean) {
  const asked: string[] = [];
  const version = settleBehaviour((marker) => (asked.push(marker), has(marker)));
  return { version, asked };
}

describe("settling a card order's behaviour version", () => {
  it('records the newest marker alone in a new run', () => {
    const { version, asked } = run(() => true);
    assert.equal(version, LATEST_ORDER_BEHAVIOUR);
    assert.deepEqual(asked, ['order-behaviour-5']);
  });

  it('asks the older markers each, oldest first, as the runs that recorded them did', () => {
    const recorded = new Set(['order-behaviour-2', 'order-behaviour-3', 'order-behaviour-4']);
    const { version, asked } = run((m) => recorded.has(m));
    assert.equal(version, 4);
    assert.deepEqual(asked, ['order-behaviour-5', 'order-behaviour-2', 'order-behaviour-3', 'order-behaviour-4']);
  });

  it('settles the newest older marker found, and 1 for a run from before versioning', () => {
    assert.equal(run((m) => m === 'order-behaviour-2').version, 2);
    assert.equal(run(() => false).version, 1);
  });

  it('names every version by its marker, and the newest is the one a new run records', () => {
    assert.equal(orderBehaviourMarkers.length + 1, LATEST_ORDER_BEHAVIOUR);
    assert.equal(orderBehaviourMarkers.at(-1), 'order-behaviour-5');
  });
});
