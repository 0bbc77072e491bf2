import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Harness, startWebhook } from './support.js';

/** Calls that never reach Temporal: a lazy connection to nowhere is enough. */
describe('webhook start and request ids', () => {
  let h: Harness;
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => void warnings.push(warning);

  before(async () => {
    process.on('warning', onWarning);
    h = await startWebhook({ address: '127.0.0.1:1' });
  });
  after(async () => {
    process.off('warning', onWarning);
    await h?.close();
  });

  it('starts without a deprecation warning', () => {
    const deprecations = warnings.filter((warning) => /deprecat/i.test(`${warning.name} ${warning.message}`));
    assert.deepEqual(
      deprecations.map((warning) => warning.message),
      [],
    );
  });

  const unauthenticated = (headers: Record<string, string> = {}) =>
    h.webhook.app.inject({ method: 'POST', url: '/notifications/d1/v2/issuers/ISSUER0001/cards', headers });
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('answers with the caller’s x-correlation-id when it is one, and a fresh id otherwise', async () => {
    const given = await unauthenticated({ 'x-correlation-id': 'corr-123_ABC' });
    assert.equal(given.statusCode, 401);
    assert.equal(given.headers['x-correlation-id'], 'corr-123_ABC');

    const first = String((await unauthenticated()).headers['x-correlation-id']);
    const second = String((await unauthenticated()).headers['x-correlation-id']);
    assert.match(first, uuid);
    assert.match(second, uuid);
    assert.notEqual(first, second);

    for (const bad of ['has spaces', 'x'.repeat(65), '']) {
      const answer = String((await unauthenticated({ 'x-correlation-id': bad })).headers['x-correlation-id']);
      assert.match(answer, uuid, JSON.stringify(bad));
    }
  });
});
