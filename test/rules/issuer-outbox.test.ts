import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  onOutboxDelivered,
  onOutboxFailed,
  outboxDue,
  outboxFinalAttempt,
  outboxWakeAt,
  takeUndelivered,
} from '../../rules/card-order/issuer-outbox.js';
import { HOUR, MINUTE, T0 } from '../helpers/machine-driver.js';

const timings = { issuerEventRetryMs: MINUTE, issuerEventMaxIntervalMs: 6 * HOUR };
const outboxOf = (...ids: string[]) => ({ pending: ids.map((eventId) => ({ eventId })) });

describe('issuer events outbox', () => {
  it('delivers at once, and after a failure waits, doubling from a minute to a cap of hours', () => {
    const events = outboxOf('wf:1', 'wf:2');
    assert.ok(outboxDue(events, T0));
    assert.equal(outboxWakeAt(events), undefined);
    const waits: number[] = [];
    let now = T0;
    for (let i = 0; i < 12; i++) {
      onOutboxFailed(events, 'ERR_ISSUER_EVENT_DELIVERY', timings, now);
      const at = outboxWakeAt(events) ?? Number.NaN;
      assert.ok(!outboxDue(events, at - 1), 'nothing goes before its time');
      assert.ok(outboxDue(events, at));
      waits.push((at - now) / MINUTE);
      now = at;
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 360, 360, 360]);
    assert.equal(events.pending.length, 2, 'nothing is dropped, however long the endpoint fails');
  });

  it('starts the back-off over once the issuer confirmed, keeping what came meanwhile', () => {
    const events = outboxOf('wf:1', 'wf:2');
    onOutboxFailed(events, 'ERR_ISSUER_EVENT_DELIVERY', timings, T0);
    events.pending.push({ eventId: 'wf:3' });
    onOutboxDelivered(events, ['wf:1', 'wf:2']);
    assert.deepEqual(events.pending, [{ eventId: 'wf:3' }]);
    assert.ok(outboxDue(events, T0));
  });

  it('tries once more when the order closes, then hands over what is left, in order', () => {
    const events = outboxOf('wf:1', 'wf:2');
    onOutboxFailed(events, 'ERR_ISSUER_EVENT_DELIVERY', timings, T0);
    outboxFinalAttempt(events);
    assert.ok(outboxDue(events, T0));
    assert.deepEqual(takeUndelivered(events), [{ eventId: 'wf:1' }, { eventId: 'wf:2' }]);
    assert.deepEqual(events.pending, []);
    assert.ok(!outboxDue(events, T0));
  });
});
