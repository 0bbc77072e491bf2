import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenCache, type IssuedToken } from '../../d1/token-cache.js';

function counter(now: () => number, lifetimeMs: number) {
  let issued = 0;
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const fetchToken = async (issuerId: string): Promise<IssuedToken> => {
    issued += 1;
    const n = issued;
    await gate;
    return { accessToken: `${issuerId}-token-${n}`, expiresAt: now() + lifetimeMs };
  };
  return { fetchToken, issued: () => issued, release: () => release() };
}

describe('TokenCache', () => {
  it('makes one token request for many concurrent callers', async () => {
    const clock = { t: 0 };
    const source = counter(() => clock.t, 900_000);
    const cache = new TokenCache(source.fetchToken, 60_000, () => clock.t);
    const pending = Array.from({ length: 50 }, () => cache.get('ISSUER0001'));
    source.release();
    const tokens = await Promise.all(pending);
    assert.equal(source.issued(), 1);
    assert.deepEqual(new Set(tokens), new Set(['ISSUER0001-token-1']));
  });

  it('keeps one token per issuer', async () => {
    const source = counter(() => 0, 900_000);
    source.release();
    const cache = new TokenCache(source.fetchToken, 60_000, () => 0);
    assert.equal(await cache.get('ISSUER0001'), 'ISSUER0001-token-1');
    assert.equal(await cache.get('ISSUER0002'), 'ISSUER0002-token-2');
    assert.equal(await cache.get('ISSUER0001'), 'ISSUER0001-token-1');
  });

  it('refreshes shortly before expiry, not after', async () => {
    const clock = { t: 0 };
    const source = counter(() => clock.t, 900_000);
    source.release();
    const cache = new TokenCache(source.fetchToken, 60_000, () => clock.t);
    await cache.get('ISSUER0001');
    clock.t = 839_999;
    assert.equal(await cache.get('ISSUER0001'), 'ISSUER0001-token-1');
    clock.t = 840_000;
    assert.equal(await cache.get('ISSUER0001'), 'ISSUER0001-token-2');
  });

  it('drops a refused token once, however many callers report it', async () => {
    const source = counter(() => 0, 900_000);
    source.release();
    const cache = new TokenCache(source.fetchToken, 60_000, () => 0);
    const stale = await cache.get('ISSUER0001');
    cache.invalidate('ISSUER0001', stale);
    const fresh = await cache.get('ISSUER0001');
    cache.invalidate('ISSUER0001', stale); // a late report about the old token
    assert.equal(await cache.get('ISSUER0001'), fresh);
    assert.equal(source.issued(), 2);
  });

  it('does not cache a failed refresh', async () => {
    let calls = 0;
    const cache = new TokenCache(
      () =>
        ++calls === 1 ? Promise.reject(new Error('down')) : Promise.resolve({ accessToken: 't', expiresAt: 1e12 }),
      60_000,
    );
    await assert.rejects(cache.get('ISSUER0001'), /down/);
    assert.equal(await cache.get('ISSUER0001'), 't');
  });
});
