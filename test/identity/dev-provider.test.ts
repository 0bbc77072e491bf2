import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { request } from 'undici';
import { codecServerAccess } from '../../codec/access.js';
import { loadConfig } from '../../config/config.js';
import type { DevIdentityServer } from '../../identity/server.js';
import { signInThrough } from '../helpers/oidc-sign-in.js';
import { startTestIdentity } from '../helpers/test-identity.js';

const AUDIENCE = 'urn:d1-card-orders:codec-server';
const CLIENT = {
  clientId: 'temporal-ui',
  clientSecret: 'ui-client-secret-0123456789',
  redirectUris: ['http://127.0.0.1:1/cb'],
};
const PASSWORDS = { operator: 'operator-password-1', viewer: 'viewer-password-1' };

/** Signs in with the code flow as a browser would, and exchanges the code as Web UI's server does. */
async function signIn(issuer: string, username: string, password: string) {
  const redirectUri = CLIENT.redirectUris[0] ?? '';
  const authorize = new URL('/auth', issuer);
  authorize.search = new URLSearchParams({
    client_id: CLIENT.clientId,
    response_type: 'code',
    scope: 'openid profile email groups codec',
    redirect_uri: redirectUri,
    state: 'state-1',
    nonce: 'nonce-1',
  }).toString();
  const { stoppedAt, refusal } = await signInThrough(authorize.href, { username, password }, (url) =>
    url.href.startsWith(redirectUri),
  );
  if (!stoppedAt) return { refused: refusal };
  assert.equal(stoppedAt.searchParams.get('state'), 'state-1');
  const token = await request(new URL('/token', issuer), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: stoppedAt.searchParams.get('code') ?? '',
      redirect_uri: redirectUri,
    }).toString(),
  });
  const tokens = (await token.body.json()) as { access_token?: string; id_token?: string; error?: string };
  assert.equal(token.statusCode, 200, JSON.stringify(tokens));
  return { tokens };
}

describe('development identity provider', () => {
  let server: DevIdentityServer;

  before(async () => {
    server = await startTestIdentity({
      client: CLIENT,
      audience: AUDIENCE,
      accounts: [
        { username: 'operator', password: PASSWORDS.operator, groups: ['card-operators'] },
        { username: 'viewer', password: PASSWORDS.viewer, groups: [] },
      ],
    });
  });
  after(() => server?.close());

  it("signs a person in with the code flow and issues a JWT access token for the codec server, with the person's groups", async () => {
    const { tokens } = await signIn(server.issuer, 'operator', PASSWORDS.operator);
    const accessToken = tokens?.access_token ?? '';
    const claims = decodeJwt(accessToken);
    assert.deepEqual(
      [claims.iss, claims.sub, claims.aud, claims.groups],
      [server.issuer, 'operator', AUDIENCE, ['card-operators']],
    );
    assert.ok(tokens?.id_token, 'an ID token for the UI server');

    // The codec server takes it, against the provider's published keys, for the namespaces of its groups.
    const access = codecServerAccess(
      loadConfig({
        CODEC_SERVER_OIDC_ISSUER: server.issuer,
        CODEC_SERVER_OIDC_AUDIENCE: AUDIENCE,
        CODEC_SERVER_OIDC_NAMESPACES: JSON.stringify({ 'card-operators': ['default'] }),
      }),
    );
    const operator = await access.authenticate(`Bearer ${accessToken}`);
    assert.deepEqual(
      [operator.subject, operator.via, [...(operator.namespaces as Set<string>)]],
      ['operator', 'oidc', ['default']],
    );

    const viewer = await signIn(server.issuer, 'viewer', PASSWORDS.viewer);
    const caller = await access.authenticate(`Bearer ${viewer.tokens?.access_token ?? ''}`);
    assert.deepEqual([caller.subject, [...(caller.namespaces as Set<string>)]], ['viewer', []]);
  });

  it('refuses a wrong password or an unknown user with one message for both', async () => {
    const wrong = await signIn(server.issuer, 'operator', 'not-the-password');
    assert.match(wrong.refused ?? '', /Unknown user or wrong password/);
    const unknown = await signIn(server.issuer, 'mallory', PASSWORDS.operator);
    assert.match(unknown.refused ?? '', /Unknown user or wrong password/);
  });
});
