/**
 * A stand-in OpenID provider for the codec server's token checks: a real HTTP server publishing a discovery document
 * and a JWKS, and the signing key to mint access tokens with any claims (expired, for another audience or issuer),
 * so each refusal is tested against the real verification path.
 *
 * @module
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';

export interface TokenIssuer {
  issuer: string;
  /** Signs `claims` (iss, exp and iat filled in unless given) with the published key, RS256. */
  sign(claims: JWTPayload, options?: { key?: CryptoKey; kid?: string }): Promise<string>;
  /** A key the provider does not publish, to sign forgeries with. */
  otherKey: CryptoKey;
  close(): Promise<void>;
}

export async function startTokenIssuer({
  port = 0,
  claimedIssuer,
}: {
  port?: number;
  /** An issuer for the discovery document other than its own address (a misconfigured provider). */
  claimedIssuer?: string;
} = {}): Promise<TokenIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  let issuer = '';
  const server = createServer((request, response) => {
    const json = (body: unknown) =>
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (request.url === '/.well-known/openid-configuration') {
      return json({ issuer: claimedIssuer ?? issuer, jwks_uri: `${issuer}/jwks` });
    }
    if (request.url === '/jwks') return json({ keys: [jwk] });
    return void response.writeHead(404).end();
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    otherKey: other.privateKey,
    async sign(claims, { key = privateKey, kid = 'test-key' } = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' })
        .sign(key);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
