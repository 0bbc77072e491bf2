/**
 * The development identity provider's HTTP server: the provider's own endpoints (discovery, JWKS, authorize, token,
 * userinfo, end session) and our sign-in page at `/interaction/{uid}`, which checks a password against the
 * accounts file. A wrong name or password shows the form again with one message for both, and is logged without
 * the name typed.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import type { Logger } from '../common/logger.js';
import { hashPassword, verifyPassword } from './accounts.js';
import { createDevProvider, type DevProviderOptions } from './provider.js';

const MAX_FORM_BYTES = 4_096;

/** A hash no password given at sign-in matches (its password is random and never kept), for unknown names. */
const unknownAccountHash = hashPassword(randomBytes(32).toString('base64url'));

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid: string, clientName: string, error?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 24rem; margin: 4rem auto">
<h1>Sign in</h1>
<p>to ${escapeHtml(clientName)} (development identity provider)</p>
${error ? `<p role="alert" style="color: #b00">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<p><label>Username <input name="username" required autofocus></label></p>
<p><label>Password <input name="password" type="password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form></body></html>`;
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function html(response: ServerResponse, status: number, body: string): void {
  response
    .writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // No form-action: Chromium applies it to the redirects after the form, out to the client's callback.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    })
    .end(body);
}

export interface DevIdentityServer {
  /** Its issuer URL, where discovery, keys and sign-in are. */
  issuer: string;
  close(): Promise<void>;
}

/**
 * Listens on `host:port` (0 picks a free port), then serves the provider under `issuer`, by default the address it
 * listens on.
 */
export async function startDevIdentityServer(
  options: Omit<DevProviderOptions, 'issuer'> & {
    issuer: string | undefined;
    host: string;
    port: number;
    logger: Logger;
  },
): Promise<DevIdentityServer> {
  const { accounts, host, port, logger } = options;
  // Requests that come before the provider is built (it needs the address first) get 503.
  const ready: { callback?: ReturnType<Provider['callback']> } = {};
  const server = createServer((request, response) => {
    const providerCallback = ready.callback;
    if (!providerCallback) return void response.writeHead(503).end();
    const match = /^\/interaction\/([\w-]+)(?:\/(login))?$/.exec(new URL(request.url ?? '/', 'http://x').pathname);
    if (!match) return void providerCallback(request, response);
    interaction(request, response, match[1] ?? '', match[2]).catch((err: unknown) => {
      logger.warn({ err: { message: (err as Error).message } }, 'sign-in failed');
      if (!response.headersSent) html(response, 400, '<p>This sign-in cannot go on; start again.</p>');
    });
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const issuer = options.issuer ?? `http://${host}:${address.port}`;
  const provider = createDevProvider({ ...options, issuer });
  ready.callback = provider.callback();

  async function interaction(request: IncomingMessage, response: ServerResponse, uid: string, action?: string) {
    const details = await provider.interactionDetails(request, response);
    if (details.uid !== uid) return html(response, 400, '<p>This sign-in has expired; start again.</p>');
    const clientName = typeof details.params.client_id === 'string' ? details.params.client_id : 'the application';
    if (details.prompt.name !== 'login') {
      // Consent is implied for the one first-party client: what it asks for is granted.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session?.accountId, clientId: clientName });
      if (!grant) return html(response, 400, '<p>This sign-in has expired; start again.</p>');
      const missing = details.prompt.details as {
        missingOIDCScope?: string[];
        missingOIDCClaims?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(resource, scopes.join(' '));
      }
      const grantId = await grant.save();
      return provider.interactionFinished(
        request,
        response,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
    }
    if (request.method === 'GET' && action === undefined) return html(response, 200, loginPage(uid, clientName));
    if (request.method !== 'POST' || action !== 'login') return html(response, 405, '<p>Not allowed.</p>');
    const form = await readForm(request);
    const username = form?.get('username') ?? '';
    const account = accounts.get(username);
    // An unknown name costs the same scrypt as a known one: the time of the answer tells no one which names exist.
    const matches = await verifyPassword(
      form?.get('password') ?? '',
      account?.passwordHash ?? (await unknownAccountHash),
    );
    const valid = account !== undefined && matches;
    if (!valid) {
      logger.warn({ event: 'sign-in refused' }, 'sign-in refused: unknown user or wrong password');
      return html(response, 401, loginPage(uid, clientName, 'Unknown user or wrong password.'));
    }
    logger.info({ event: 'signed in', subject: username }, 'signed in');
    return provider.interactionFinished(
      request,
      response,
      { login: { accountId: username } },
      { mergeWithLastSubmission: false },
    );
  }

  return {
    issuer,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
