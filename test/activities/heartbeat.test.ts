import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { withHeartbeat } from '../../activities/heartbeat.js';

describe('activity heartbeats', () => {
  it('heartbeats while a D1 call waits, and a cancel reaches the call through its abort signal', async () => {
    const env = new MockActivityEnvironment();
    let heartbeats = 0;
    env.on('heartbeat', () => (heartbeats += 1));
    const running = env.run(() =>
      withHeartbeat(async (signal) => {
        await once(signal, 'abort');
        throw signal.reason;
      }),
    );
    env.cancel();
    await assert.rejects(running);
    assert.ok(heartbeats >= 1, `${heartbeats} heartbeats`);
  });
});
