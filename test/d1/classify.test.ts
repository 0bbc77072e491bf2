import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorFromResponse, errorFromTransport, parseRetryAfter } from '../../d1/classify.js';

describe('D1 error classification', () => {
  const cases = [
    [400, 'ERR_D1_BAD_REQUEST', false],
    [401, 'ERR_D1_UNAUTHORIZED', true],
    [403, 'ERR_D1_FORBIDDEN', true],
    [404, 'ERR_D1_NOT_FOUND', false],
    [409, 'ERR_D1_CONFLICT', false],
    [413, 'ERR_D1_BAD_REQUEST', false],
    [429, 'ERR_D1_RATE_LIMITED', true],
    [500, 'ERR_D1_UNAVAILABLE', true],
    [503, 'ERR_D1_UNAVAILABLE', true],
  ] as const;
  for (const [status, code, retryable] of cases) {
    it(`classifies ${status} as ${code} (${retryable ? 'transient' : 'permanent'})`, () => {
      const err = errorFromResponse('order card', status, {}, '{"errorCode":"SOME_CODE","error":"text"}', 'corr-1');
      assert.equal(err.code, code);
      assert.equal(err.retryable, retryable);
      // Refused credentials or permissions are retried, but an operator must act.
      assert.equal(err.needsOperator, status === 401 || status === 403);
      assert.equal(err.httpStatus, status);
      assert.equal(err.d1ErrorCode, 'SOME_CODE');
      assert.equal(err.correlationId, 'corr-1');
    });
  }

  it('classifies a refused token request as ERR_D1_TOKEN_REJECTED with the OAuth error code', () => {
    const err = errorFromResponse('get token', 400, {}, '{"error":"invalid_grant","error_description":"bad kid"}', 'c');
    assert.equal(err.code, 'ERR_D1_TOKEN_REJECTED');
    assert.equal(err.retryable, true, 'a rotated key must not fail every open order');
    assert.equal(err.needsOperator, true);
    assert.equal(err.d1ErrorCode, 'invalid_grant');
    assert.match(err.message, /bad kid/);
  });

  it('carries the Retry-After delay of a 429, in seconds or as an HTTP date', () => {
    const err = errorFromResponse('order card', 429, { 'retry-after': '7' }, '', 'c');
    assert.ok(err.code === 'ERR_D1_RATE_LIMITED');
    assert.equal(err.retryAfterMs, 7000);
    assert.equal(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)), 30_000);
    assert.equal(parseRetryAfter(undefined), 1000);
  });

  it('keeps the status verdict when the body is not JSON', () => {
    const err = errorFromResponse('order card', 502, {}, '<html>Bad gateway</html>', 'c');
    assert.equal(err.code, 'ERR_D1_UNAVAILABLE');
    assert.equal(err.d1ErrorCode, undefined);
  });

  it("leaves out and names an error body's oversize fields, keeping the status verdict and the rest", () => {
    const longText = JSON.stringify({ errorCode: 'ORDER_IN_PROGRESS', error: 'x'.repeat(513) });
    const conflict = errorFromResponse('order card', 409, {}, longText, 'c');
    assert.equal(conflict.code, 'ERR_D1_CONFLICT');
    assert.equal(conflict.d1ErrorCode, 'ORDER_IN_PROGRESS');
    assert.match(conflict.message, /error body breaks the contract: error Too big: expected string to have <=512/);
    assert.doesNotMatch(conflict.message, /xxxx/);

    // An oversize code never becomes the order's failure reason; a 503 stays transient.
    const longCode = JSON.stringify({ errorCode: 'E'.repeat(65), error: 'D1 is busy' });
    const unavailable = errorFromResponse('order card', 503, {}, longCode, 'c');
    assert.equal(unavailable.code, 'ERR_D1_UNAVAILABLE');
    assert.equal(unavailable.retryable, true);
    assert.equal(unavailable.d1ErrorCode, undefined);
    assert.match(unavailable.message, /\(D1 is busy\); .*errorCode Too big: expected string to have <=64 characters/);
    assert.doesNotMatch(unavailable.message, /EEEE/);
  });

  it('never passes on a card number that a remote error echoed', () => {
    const err = errorFromResponse('order card', 400, {}, '{"errorCode":"X","error":"pan 4111111111111111 bad"}', 'c');
    assert.doesNotMatch(err.message, /4111111111111111/);
    assert.doesNotMatch(JSON.stringify(err), /4111111111111111/);
  });

  it('tells timeouts from failed connections, both transient', () => {
    const timeout = errorFromTransport(
      'order card',
      Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }),
      'c',
      false,
    );
    assert.equal(timeout.code, 'ERR_D1_TIMEOUT');
    assert.equal(timeout.retryable, true);
    const aborted = errorFromTransport('order card', new Error('aborted'), 'c', true);
    assert.equal(aborted.code, 'ERR_D1_TIMEOUT');
    const reset = errorFromTransport(
      'order card',
      Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      'c',
      false,
    );
    assert.equal(reset.code, 'ERR_D1_NETWORK');
    assert.equal(reset.retryable, true);
  });
});
