import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
import { codecServerAccess } from '../../codec/access.js';
import { CodecMetrics } from '../../codec/audit.js';
import { AesGcmPayloadCodec } from '../../codec/payload-codec.js';
import { loadCodecKeyRing } from '../../codec/data-converter.js';
import { createCodecServer, type CodecServer } from '../../codec/server.js';
import { loadConfig, projectRoot, type Config } from '../../config/config.js';
import { ConfigError } from '../../common/errors.js';
import { HttpError } from '../../common/http-errors.js';
import { LogCapture } from '../helpers/d1-stack.js';
import { configRefusal, runToExit } from '../helpers/fail-closed.js';
import { freePort } from '../helpers/ports.js';
import { eventually } from '../helpers/temporal.js';
import { makeTestPki } from '../helpers/tls.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

const codecKeysFile = path.join(projectRoot, 'test/fixtures/codec-keys.json');
const AUDIENCE = 'urn:d1-card-orders:codec-server';
const STATIC_TOKEN = 'machine-token-0123456789abcdef';
/** A clear payload whose bytes must never reach a log line. */
const SECRET_TEXT = 'Jane Doe, 10 Main St';
const clearPayload = {
  metadata: { encoding: Buffer.from('json/plain').toString('base64') },
  data: Buffer.from(JSON.stringify(SECRET_TEXT)).toString('base64'),
};

const refusal = (env: Record<string, string>) =>
  configRefusal(() => codecServerAccess(loadConfig(env)), 'the codec server access');

describe('codec server access fails closed', () => {
  it('refuses to start without an authenticator outside DEMO_MODE, naming both settings', () => {
    const error = refusal({});
    assert.deepEqual(
      error.issues.map((issue) => issue.key),
      ['CODEC_SERVER_OIDC_ISSUER', 'CODEC_SERVER_AUTH_TOKEN'],
    );
    assert.match(error.message, /DEMO_MODE/);
    assert.equal(refusal({ DEMO_MODE: 'false' }).code, 'ERR_CONFIG_INVALID');
    assert.ok(codecServerAccess(loadConfig({ DEMO_MODE: 'true' })));
    assert.ok(codecServerAccess(loadConfig({ CODEC_SERVER_AUTH_TOKEN: STATIC_TOKEN })));
  });

  it('names what an OIDC setup lacks: audience, namespace grants, algorithms it would not verify', () => {
    const issuer = { CODEC_SERVER_OIDC_ISSUER: 'https://login.example.com' };
    assert.throws(
      () => loadConfig(issuer),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.issues.map((issue) => issue.key).sort(), [
          'CODEC_SERVER_OIDC_AUDIENCE',
          'CODEC_SERVER_OIDC_NAMESPACES',
        ]);
        return true;
      },
    );
    const complete = { ...issuer, CODEC_SERVER_OIDC_AUDIENCE: AUDIENCE };
    assert.equal(
      refusal({ ...complete, CODEC_SERVER_OIDC_NAMESPACES: '{not json' }).issues[0]?.key,
      'CODEC_SERVER_OIDC_NAMESPACES',
    );
    assert.equal(
      refusal({ ...complete, CODEC_SERVER_OIDC_NAMESPACES: '{}' }).issues[0]?.key,
      'CODEC_SERVER_OIDC_NAMESPACES',
    );
    // Half an OIDC setup, or a leeway that would take week-old tokens, is named rather than ignored.
    for (const [env, key] of [
      [{ CODEC_SERVER_OIDC_AUDIENCE: AUDIENCE }, 'CODEC_SERVER_OIDC_AUDIENCE'],
      [{ CODEC_SERVER_OIDC_NAMESPACES: '{"ops":["default"]}' }, 'CODEC_SERVER_OIDC_NAMESPACES'],
      [{ CODEC_SERVER_OIDC_CLOCK_TOLERANCE: '1h' }, 'CODEC_SERVER_OIDC_CLOCK_TOLERANCE'],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && err.issues.some((issue) => issue.key === key),
        key,
      );
    }
    // Keys over plain http: only to this machine, or in the demo.
    const plain = {
      ...complete,
      CODEC_SERVER_OIDC_ISSUER: 'http://login.example.com',
      CODEC_SERVER_OIDC_NAMESPACES: '{"ops":["default"]}',
    };
    assert.equal(refusal(plain).issues[0]?.key, 'CODEC_SERVER_OIDC_ISSUER');
    assert.ok(codecServerAccess(loadConfig({ ...plain, DEMO_MODE: 'true' })));
    assert.ok(codecServerAccess(loadConfig({ ...plain, CODEC_SERVER_OIDC_ISSUER: 'http://127.0.0.1:9099' })));
    for (const algorithms of ['none', 'HS256', 'RS256,none']) {
      assert.throws(
        () =>
          loadConfig({
            ...complete,
            CODEC_SERVER_OIDC_NAMESPACES: '{"ops":["default"]}',
            CODEC_SERVER_OIDC_ALGORITHMS: algorithms,
          }),
        (err: unknown) =>
          err instanceof ConfigError && err.issues[0]?.key.startsWith('CODEC_SERVER_OIDC_ALGORITHMS') === true,
        algorithms,
      );
    }
  });

  it('`npm run codec-server` exits at once without an authenticator, naming the settings, and never listens', async () => {
    const { code, output } = await runToExit('codec/main.ts', {
      PAYLOAD_CODEC_KEYS_FILE: codecKeysFile,
      CODEC_SERVER_PORT: '0',
      CODEC_SERVER_METRICS_PORT: '0',
    });
    assert.notEqual(code, 0);
    assert.match(output, /ERR_CONFIG_INVALID|Invalid configuration/);
    assert.match(output, /CODEC_SERVER_OIDC_ISSUER: must be set/);
    assert.doesNotMatch(output, /codec server listening/);
  });
});

describe('codec server access by OIDC access token and static token', () => {
  let idp: TokenIssuer;
  let server: CodecServer;
  let config: Config;
  const logs = new LogCapture();
  const metrics = new CodecMetrics();

  before(async () => {
    idp = await startTokenIssuer();
    config = loadConfig({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PAYLOAD_CODEC_KEYS_FILE: codecKeysFile,
      CODEC_SERVER_PORT: '0',
      CODEC_SERVER_AUTH_TOKEN: STATIC_TOKEN,
      CODEC_SERVER_OIDC_ISSUER: idp.issuer,
      CODEC_SERVER_OIDC_AUDIENCE: AUDIENCE,
      CODEC_SERVER_OIDC_NAMESPACES: JSON.stringify({ 'card-operators': ['default'], auditors: ['*'] }),
      CODEC_SERVER_OIDC_CLOCK_TOLERANCE: '5s',
    });
    const codec = new AesGcmPayloadCodec(await loadCodecKeyRing(config.payloadCodec));
    server = await createCodecServer(config, { codec, logger: logs.logger, metrics });
  });
  after(async () => {
    await server?.close();
    await idp?.close();
  });

  const encode = (authorization: string | undefined, namespace: string | null = 'default') =>
    server.app.inject({
      method: 'POST',
      url: '/encode',
      headers: {
        'content-type': 'application/json',
        ...(authorization && { authorization }),
        ...(namespace !== null && { 'x-namespace': namespace }),
      },
      payload: { payloads: [clearPayload] },
    });
  const operator = (claims: Record<string, unknown> = {}) =>
    idp.sign({ sub: 'alice', aud: AUDIENCE, groups: ['card-operators'], ...claims });
  /** The audit lines written since `from`, parsed. */
  const auditLines = (from: number) =>
    logs.lines
      .slice(from)
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.audit === 'codec-server');

  it('decodes for a signed-in operator in a granted namespace, and for the static token in any', async () => {
    const ok = await encode(`Bearer ${await operator()}`);
    assert.equal(ok.statusCode, 200, ok.body);
    const auditor = await idp.sign({ sub: 'carol', aud: AUDIENCE, groups: 'auditors' });
    assert.equal((await encode(`Bearer ${auditor}`, 'payments-prod')).statusCode, 200);
    assert.equal((await encode(`Bearer ${STATIC_TOKEN}`, 'payments-prod')).statusCode, 200);
    assert.equal((await encode(`Bearer ${STATIC_TOKEN}`, null)).statusCode, 200);
  });

  it('answers 401 with a Bearer challenge for missing, expired, wrong-audience, wrong-issuer, unsigned and forged tokens', async () => {
    const missing = await encode(undefined);
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="codec-server"');
    assert.equal(missing.json<{ errorCode: string }>().errorCode, 'TOKEN_REQUIRED');

    const now = Math.floor(Date.now() / 1000);
    const unsigned = [
      Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'),
      Buffer.from(JSON.stringify({ iss: idp.issuer, sub: 'mallory', aud: AUDIENCE, exp: now + 300 })).toString(
        'base64url',
      ),
      '',
    ].join('.');
    const cases: [string, string, RegExp][] = [
      ['expired', await operator({ iat: now - 600, exp: now - 60 }), /expired/],
      ['wrong audience', await operator({ aud: 'urn:another-api' }), /aud claim/],
      ['wrong issuer', await operator({ iss: 'https://evil.example.com' }), /iss claim/],
      ['alg none', unsigned, /not a signed JWT|algorithm/],
      [
        'forged',
        await idp.sign({ sub: 'alice', aud: AUDIENCE, groups: ['card-operators'] }, { key: idp.otherKey }),
        /signature/,
      ],
      [
        'unknown key',
        await idp.sign({ sub: 'alice', aud: AUDIENCE }, { key: idp.otherKey, kid: 'rotated-away' }),
        /key/,
      ],
      ['no sub', await idp.sign({ aud: AUDIENCE, groups: ['card-operators'] }), /sub claim/],
      ['not a JWT', 'wrong-token-0000000000', /not a signed JWT|not accepted/],
    ];
    for (const [what, token, reason] of cases) {
      const from = logs.lines.length;
      const answer = await encode(`Bearer ${token}`);
      // Each refusal has its audit line, with no subject (none verified) and nothing of the token.
      assert.deepEqual(
        auditLines(from).map((line) => [line.subject, line.outcome, line.errorCode]),
        [[undefined, 'unauthenticated', 'INVALID_TOKEN']],
        what,
      );
      assert.ok(!logs.lines.slice(from).join('').includes(token), `${what}: the token is not logged`);
      assert.equal(answer.statusCode, 401, `${what}: ${answer.body}`);
      const challenge = String(answer.headers['www-authenticate']);
      // RFC 6750: auth-params of quoted strings, no quote inside them.
      assert.match(
        challenge,
        /^Bearer realm="codec-server", error="invalid_token", error_description="[^"\\]*"$/,
        what,
      );
      assert.match(answer.json<{ error: string }>().error, reason, what);
    }
  });

  it('checks the token before reading the body: no token is 401 whatever the body', async () => {
    for (const [contentType, payload] of [
      ['text/plain', 'not json'],
      ['application/json', '{ broken'],
      ['application/json', JSON.stringify({ payloads: 'x'.repeat(5 * 1024 * 1024) })],
    ] as const) {
      const answer = await server.app.inject({
        method: 'POST',
        url: '/decode',
        headers: { 'content-type': contentType, 'x-namespace': 'default' },
        payload,
      });
      assert.equal(answer.statusCode, 401, `${contentType} ${payload.slice(0, 10)}`);
    }
  });

  it('answers 503 while the provider cannot be read or names another issuer, and recovers once it can', async () => {
    const port = await freePort();
    const settings = (issuer: string) =>
      loadConfig({
        CODEC_SERVER_OIDC_ISSUER: issuer,
        CODEC_SERVER_OIDC_AUDIENCE: AUDIENCE,
        CODEC_SERVER_OIDC_NAMESPACES: JSON.stringify({ 'card-operators': ['default'] }),
      });
    const access = codecServerAccess(settings(`http://127.0.0.1:${port}`));
    await assert.rejects(
      access.authenticate(`Bearer ${await operator()}`),
      (err: HttpError) => err.statusCode === 503 && err.errorCode === 'IDENTITY_PROVIDER_UNAVAILABLE',
    );
    const lateIdp = await startTokenIssuer({ port });
    try {
      const token = await lateIdp.sign({ sub: 'alice', aud: AUDIENCE, groups: ['card-operators'] });
      const caller = await eventually(
        () =>
          access.authenticate(`Bearer ${token}`).catch((err: unknown) => {
            if (err instanceof HttpError && err.statusCode === 503) return undefined; // within the retry wait
            throw err;
          }),
        { timeoutMs: 15_000, intervalMs: 500, what: 'the codec server to read the provider once it is up' },
      );
      assert.equal(caller.subject, 'alice');
    } finally {
      await lateIdp.close();
    }
    const liar = await startTokenIssuer({ claimedIssuer: 'https://someone-else.example.com' });
    try {
      const misled = codecServerAccess(settings(liar.issuer));
      await assert.rejects(
        misled.authenticate(`Bearer ${await liar.sign({ sub: 'alice', aud: AUDIENCE })}`),
        (err: HttpError) => err.statusCode === 503 && err.errorCode === 'IDENTITY_PROVIDER_MISCONFIGURED',
      );
    } finally {
      await liar.close();
    }
  });

  it('answers 403 for a namespace the groups do not grant, and 400 when a person names no namespace', async () => {
    const other = await encode(`Bearer ${await operator()}`, 'payments-prod');
    assert.equal(other.statusCode, 403);
    assert.equal(other.json<{ errorCode: string }>().errorCode, 'NAMESPACE_FORBIDDEN');
    const noGroup = await encode(`Bearer ${await idp.sign({ sub: 'bob', aud: AUDIENCE })}`);
    assert.equal(noGroup.statusCode, 403);
    const strangerGroup = await encode(
      `Bearer ${await idp.sign({ sub: 'bob', aud: AUDIENCE, groups: ['marketing'] })}`,
    );
    assert.equal(strangerGroup.statusCode, 403);
    const unnamed = await encode(`Bearer ${await operator()}`, null);
    assert.equal(unnamed.statusCode, 400);
    assert.deepEqual(
      unnamed.json<{ fields: { field: string }[] }>().fields.map((f) => f.field),
      ['x-namespace'],
    );
    // The path names the namespace as well as the header does.
    const byPath = await server.app.inject({
      method: 'POST',
      url: '/default/decode',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await operator()}` },
      payload: { payloads: [] },
    });
    assert.equal(byPath.statusCode, 200, byPath.body);
  });

  it('refuses a payload sealed for another namespace, whatever namespace the call names', async () => {
    const ring = await loadCodecKeyRing(config.payloadCodec);
    const [sealed] = await new AesGcmPayloadCodec(ring, { namespace: 'payments-prod' }).encode([
      { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(SECRET_TEXT)) },
    ]);
    const asJson = {
      metadata: Object.fromEntries(
        Object.entries(sealed!.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
      ),
      data: Buffer.from(sealed!.data ?? []).toString('base64'),
    };
    const decode = async (namespace: string, payload: typeof asJson) =>
      server.app.inject({
        method: 'POST',
        url: '/decode',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await operator()}`,
          'x-namespace': namespace,
        },
        payload: { payloads: [payload] },
      });
    // alice may decode `default` only: a payments-prod payload brought under `default` is refused.
    const smuggled = await decode('default', asJson);
    assert.equal(smuggled.statusCode, 403);
    assert.equal(smuggled.json<{ errorCode: string }>().errorCode, 'PAYLOAD_NAMESPACE_MISMATCH');
    const relabelled = await decode('default', {
      ...asJson,
      metadata: { ...asJson.metadata, 'encryption-namespace': Buffer.from('default').toString('base64') },
    });
    assert.equal(relabelled.statusCode, 400);
    assert.doesNotMatch(smuggled.body + relabelled.body, /Jane|Main St/);
  });

  it('writes one audit line per call, allowed or refused, naming who and what came of it, never a payload or token', async () => {
    const from = logs.lines.length;
    const token = await operator();
    const expired = await operator({ exp: Math.floor(Date.now() / 1000) - 60 });
    await encode(`Bearer ${token}`);
    await encode(`Bearer ${expired}`);
    await encode(undefined);
    await encode(`Bearer ${token}`, 'payments-prod');
    await encode(`Bearer ${STATIC_TOKEN}`);
    const lines = auditLines(from);
    assert.deepEqual(
      lines.map((line) => [
        line.action,
        line.subject,
        line.via,
        line.namespace,
        line.payloads,
        line.outcome,
        line.errorCode,
      ]),
      [
        ['encode', 'alice', 'oidc', 'default', 1, 'allowed', undefined],
        ['encode', undefined, undefined, 'default', 0, 'unauthenticated', 'INVALID_TOKEN'],
        ['encode', undefined, undefined, 'default', 0, 'unauthenticated', 'TOKEN_REQUIRED'],
        ['encode', 'alice', 'oidc', 'payments-prod', 0, 'forbidden', 'NAMESPACE_FORBIDDEN'],
        ['encode', 'static token', 'static-token', 'default', 1, 'allowed', undefined],
      ],
    );
    const text = logs.lines.slice(from).join('');
    for (const secret of [clearPayload.data, SECRET_TEXT, token, expired, STATIC_TOKEN]) {
      assert.ok(!text.includes(secret), 'no payload, name or token in the logs');
    }
    const counted = await metrics.calls.get();
    const count = (subject: string, outcome: string) =>
      counted.values.find(
        (v) => v.labels.subject === subject && v.labels.outcome === outcome && v.labels.action === 'encode',
      )?.value ?? 0;
    assert.ok(count('alice', 'allowed') >= 1);
    assert.ok(count('alice', 'forbidden') >= 1);
    assert.ok(count('(none)', 'unauthenticated') >= 2);
  });

  it('audits a call refused for its origin too', async () => {
    const from = logs.lines.length;
    const answer = await server.app.inject({
      method: 'POST',
      url: '/decode',
      headers: { origin: 'https://evil.example.com', 'content-type': 'application/json', 'x-namespace': 'default' },
      payload: { payloads: [clearPayload] },
    });
    assert.equal(answer.statusCode, 403);
    assert.deepEqual(
      auditLines(from).map((line) => [line.action, line.outcome, line.errorCode]),
      [['decode', 'forbidden', 'ORIGIN_NOT_ALLOWED']],
    );
  });

  it('serves HTTPS with CODEC_SERVER_TLS_CERT_FILE and _KEY_FILE, as Web UI needs to pass access tokens', async () => {
    const pki = await makeTestPki();
    const tlsServer = await createCodecServer(
      loadConfig({
        PAYLOAD_CODEC_KEYS_FILE: codecKeysFile,
        CODEC_SERVER_PORT: '0',
        CODEC_SERVER_AUTH_TOKEN: STATIC_TOKEN,
        CODEC_SERVER_TLS_CERT_FILE: pki.serverCert,
        CODEC_SERVER_TLS_KEY_FILE: pki.serverKey,
      }),
      { codec: new AesGcmPayloadCodec(await loadCodecKeyRing(config.payloadCodec)), logger: logs.logger },
    );
    try {
      assert.match(tlsServer.url, /^https:\/\//);
      const dispatcher = new Agent({ connect: { ca: await readFile(pki.caCert) } });
      const answer = await request(`${tlsServer.url}/encode`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${STATIC_TOKEN}` },
        body: JSON.stringify({ payloads: [clearPayload] }),
      });
      assert.equal(answer.statusCode, 200);
      await answer.body.dump();
      await dispatcher.close();
    } finally {
      await tlsServer.close();
    }
  });
});
