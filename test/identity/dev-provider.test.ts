import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import pino from 'pino';
import { request } from 'undici';
import { codecServerAccess } from '../../codec/access.js';
import { loadConfig } from '../../common/config.js';
import { hashPassword, type Account } from '../../identity/accounts.js';
import { startDevIdentityServer, type DevIdentityServer } from '../../identity/server.js';
import { newSigningKey } from '../../identity/signing-key.js';

const AUDIENCE = 'urn:d1-card-orders:codec-server';
const CLIENT = {
  clientId: 'temporal-ui',
  clientSecret: 'ui-client-secret-0123456789',
  redirectUris: ['http://127.0.0.1:1/cb'],
};
const PASSWORDS = { operator: 'operator-password-1', viewer: 'viewer-password-1' };

/** Follows the code flow as a browser would, keeping cookies, and returns the token endpoint's answer. */
async function signIn(issuer: string, username: string, password: string) {
  const jar = new Map<string, string>();
  const call = async (url: string, init: { method?: 'GET' | 'POST'; form?: Record<string, string> } = {}) => {
    const answer = await request(new URL(url, issuer), {
      method: init.method ?? 'GET',
      headers: {
        cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(init.form && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(init.form && { body: new URLSearchParams(init.form).toString() }),
    });
    const cookies = answer.headers['set-cookie'];
    for (const cookie of Array.isArray(cookies) ? cookies : cookies ? [cookies] : []) {
      const [pair = ''] = cookie.split(';');
      const at = pair.indexOf('=');
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return {
      status: answer.statusCode,
      location: answer.headers.location as string | undefined,
      body: await answer.body.text(),
    };
  };
  const authorize = new URL('/auth', issuer);
  authorize.search = new URLSearchParams({
    client_id: CLIENT.clientId,
    response_type: 'code',
    scope: 'openid profile email groups codec',
    redirect_uri: CLIENT.redirectUris[0] ?? '',
    state: 'state-1',
    nonce: 'nonce-1',
  }).toString();
  let step = await call(authorize.href);
  assert.equal(step.status, 303, step.body);
  const interaction = step.location ?? '';
  assert.match(interaction, /^\/interaction\/[\w-]+$/);
  const form = await call(interaction);
  assert.equal(form.status, 200);
  assert.match(form.body, /name="password"/);
  step = await call(`${interaction}/login`, { method: 'POST', form: { username, password } });
  if (step.status === 401) return { refused: step.body };
  // Back to the provider, which redirects to the client's callback with a code.
  for (let hops = 0; step.location && !step.location.startsWith(CLIENT.redirectUris[0] ?? '-') && hops < 5; hops += 1) {
    step = await call(step.location);
  }
  const callback = new URL(step.location ?? '');
  assert.equal(callback.searchParams.get('state'), 'state-1');
  const code = callback.searchParams.get('code') ?? '';
  const token = await request(new URL('/token', issuer), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CLIENT.redirectUris[0] ?? '',
    }).toString(),
  });
  const tokens = (await token.body.json()) as { access_token?: string; id_token?: string; error?: string };
  assert.equal(token.statusCode, 200, JSON.stringify(tokens));
  return { tokens };
}

describe('development identity provider', () => {
  let server: DevIdentityServer;

  before(async () => {
    const account = async (username: keyof typeof PASSWORDS, groups: string[]): Promise<[string, Account]> => [
      username,
      {
        username,
        passwordHash: await hashPassword(PASSWORDS[username]),
        name: username,
        email: `${username}@example.com`,
        groups,
      },
    ];
    server = await startDevIdentityServer({
      issuer: undefined,
      host: '127.0.0.1',
      port: 0,
      client: CLIENT,
      audience: AUDIENCE,
      accounts: new Map([await account('operator', ['card-operators']), await account('viewer', [])]),
      signingKey: await newSigningKey(),
      cookieKeys: [randomBytes(32).toString('base64url')],
      tokenTtlSeconds: 600,
      logger: pino({ level: 'silent' }),
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
