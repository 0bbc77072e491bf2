import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workflowClock } from '../../workflows/workflow-clock.js';

describe("the card order's clock", () => {
  it('reads the SDK time, never earlier than a timer seen firing, and never goes back', () => {
    const clock = workflowClock();
    const before = Date.now();
    assert.ok(clock.now() >= before);
    const ahead = Date.now() + 60_000;
    clock.reached(ahead);
    assert.equal(clock.now(), ahead, 'a fired timer for a later time moves the clock to it');
    clock.reached(ahead - 30_000);
    assert.equal(clock.now(), ahead, 'an earlier timer does not move it back');
  });
});
