/**
 * The development OpenID provider: panva's certified `oidc-provider`, set up for one confidential client (Web UI's
 * server, authorization code flow) and the accounts of a file. Its access tokens are JWTs for one resource, the
 * codec server (`aud`), carrying the account's `groups`, so the codec server verifies them against the published
 * JWKS and authorizes by namespace without calling back. Consent is implied for the one first-party client.
 *
 * @module
 */
import type { JWK } from 'jose';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Account } from './accounts.js';

export interface DevProviderOptions {
  issuer: string;
  client: { clientId: string; clientSecret: string; redirectUris: string[] };
  /** The resource every access token is for (the codec server's audience). */
  audience: string;
  accounts: ReadonlyMap<string, Account>;
  /** A private signing JWK (RS256). */
  signingKey: JWK;
  /** Secrets for the provider's signed cookies. */
  cookieKeys: string[];
  tokenTtlSeconds: number;
}

/** The scopes Web UI's server asks for; `codec` is the codec server's resource scope. */
export const DEV_PROVIDER_SCOPES = ['openid', 'profile', 'email', 'groups', 'codec'] as const;

/** The first-party client's grant: every scope it may ask for, given once per account and client. */
async function impliedGrant(ctx: KoaContextWithOIDC, audience: string) {
  const { provider, client, session, result } = ctx.oidc;
  if (!client || !session?.accountId) return undefined;
  const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
  if (grantId) return provider.Grant.find(grantId);
  const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope('openid profile email groups');
  grant.addResourceScope(audience, 'codec');
  await grant.save();
  return grant;
}

export function createDevProvider(options: DevProviderOptions): Provider {
  const { issuer, client, audience, accounts, signingKey, cookieKeys, tokenTtlSeconds } = options;
  const configuration: Configuration = {
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        redirect_uris: client.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [{ ...signingKey, use: 'sig', alg: 'RS256' }] },
    cookies: { keys: cookieKeys },
    scopes: [...DEV_PROVIDER_SCOPES],
    claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
    findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return Promise.resolve(undefined);
      return Promise.resolve({
        accountId: id,
        claims: () => ({ sub: id, name: account.name, email: account.email, groups: account.groups }),
      });
    },
    // The access token carries the groups the codec server authorizes by (RFC 9068 allows such claims).
    extraTokenClaims(_ctx, token) {
      const accountId = 'accountId' in token ? token.accountId : undefined;
      const account = typeof accountId === 'string' ? accounts.get(accountId) : undefined;
      return Promise.resolve(account ? { groups: account.groups } : undefined);
    },
    loadExistingGrant: (ctx) => impliedGrant(ctx, audience),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resource) {
          if (resource !== audience) throw new errors.InvalidTarget();
          return {
            scope: 'codec',
            audience,
            accessTokenFormat: 'jwt',
            accessTokenTTL: tokenTtlSeconds,
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: {
      AccessToken: tokenTtlSeconds,
      IdToken: tokenTtlSeconds,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 8 * 3_600,
      Grant: 8 * 3_600,
    },
  };
  return new Provider(issuer, configuration);
}
