/**
 * What the simulator tests share: a demo key set in a temp dir, a simulator on port 0 with its logs captured, an
 * HTTP client over undici, order bodies with real JWEs, hand-made assertions, a manual clock, and polling with a
 * deadline.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CompactEncrypt, importJWK, SignJWT, type JWK } from 'jose';
import { pino } from 'pino';
import { request, type Dispatcher } from 'undici';
import { demoKeyFiles, ensureDemoKeys, loadSigningKey, type KeyWithId } from '../../d1/keys.js';
import { JWT_BEARER_GRANT } from '../../d1/schemas.js';
import { productionStatusResponseSchema, type Operation } from '../../d1/report-schemas.js';
import type { Clock, Timer } from '../../simulator/clock.js';
import { loadSimulatorConfig } from '../../simulator/config.js';
import { createSimulator, type Simulator } from '../../simulator/server.js';
import { testAddress } from '../helpers/fixtures.js';

export const ISSUER_ID = 'ISSUER0001';
export const OTHER_ISSUER_ID = 'ISSUER0002';
/** Card data that must never come back in an answer or a log line. */
export const CARD_DATA = { pan: '4111111111111111', exp: '2811', name: 'JANE Q CARDHOLDER', cvv2: '739' } as const;

/** A temp dir under the test run's own (removed after the run). */
export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(process.env.TEST_TMPDIR ?? os.tmpdir(), prefix));
}

let keys: Promise<{ dir: string; signingKey: KeyWithId }> | undefined;

/** One demo key set per test process. */
export function demoKeys(): Promise<{ dir: string; signingKey: KeyWithId }> {
  keys ??= (async () => {
    const dir = await tempDir('d1-sim-keys-');
    await ensureDemoKeys(dir);
    const signingKey = await loadSigningKey({ file: path.join(dir, demoKeyFiles.signingPrivateJwk) });
    return { dir, signingKey };
  })();
  return keys;
}

/** An HTTP answer with its body parsed when it is JSON. */
export interface Answer {
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  text: string;
  /** The JSON body, or undefined when there is none. */
  json: Record<string, unknown> & { operations?: Record<string, unknown>[] };
}

export interface CallOptions {
  json?: unknown;
  form?: Record<string, string>;
  /** A body sent as it is, with whatever content type `headers` say. */
  raw?: string;
  token?: string;
  headers?: Record<string, string>;
  headersTimeout?: number;
  /** The undici dispatcher to send through (e.g. one with client certificates). */
  dispatcher?: Dispatcher;
}

/** One request with undici; the body is read in full. */
export async function call(base: string, method: Dispatcher.HttpMethod, urlPath: string, options: CallOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.raw;
  if (options.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  }
  if (options.form) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await request(`${base}${urlPath}`, {
    method,
    headers,
    body,
    ...(options.headersTimeout && { headersTimeout: options.headersTimeout }),
    ...(options.dispatcher && { dispatcher: options.dispatcher }),
  });
  const text = await response.body.text();
  let json: Answer['json'] = {};
  try {
    json = text ? (JSON.parse(text) as Answer['json']) : {};
  } catch {
    // Not JSON: callers look at `text`.
  }
  return { status: response.statusCode, headers: response.headers, text, json } satisfies Answer;
}

/** Signs an assertion with `signingKey`: valid claims unless overridden; `kid: null` leaves the kid out. */
export async function makeAssertion(
  signingKey: KeyWithId,
  claims: Record<string, unknown> = {},
  kid: string | null = signingKey.kid,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER_ID, sub: ISSUER_ID, iat: now, exp: now + 300, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', ...(kid !== null && { kid }) })
    .sign(signingKey.key);
}

/** Encrypts card data as a client would: compact JWE, ECDH-ES, A256GCM, to `jwk` under `kid`. */
export async function encryptCardData(
  data: Record<string, unknown>,
  jwk: JWK,
  header: { alg?: string; enc?: string; kid?: string } = {},
): Promise<string> {
  const protectedHeader = { alg: 'ECDH-ES', enc: 'A256GCM', kid: jwk.kid, ...header };
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(data)))
    .setProtectedHeader(protectedHeader)
    .encrypt(await importJWK(jwk, protectedHeader.alg));
}

const address = testAddress;

/** A valid THALES order body, top-level fields overridable. */
export function orderBody(encryptedData: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    distributionChannel: 'THALES',
    cardProductId: 'PRD_VISA_DEBIT',
    consumerId: 'cons_42',
    issuerRequestId: `req-${randomUUID()}`,
    services: { issuance: 'CREATION', delivery: 'usps-imb', pinMailer: false },
    encryptedData,
    paymentApplication: { config: 'VISA_DEBIT_V1', odaKeyIndex: '1', derivationKeyIndex: '1' },
    shipment: { type: 'INDIVIDUAL', deliveryAddress: address, individualAddress: address },
    ...overrides,
  };
}

/** Timers that fire only when the test advances time. */
export class ManualClock implements Clock {
  #now = Date.now();
  #timers = new Set<{ at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  schedule(ms: number, callback: () => void): Timer {
    const timer = { at: this.#now + ms, callback };
    this.#timers.add(timer);
    return { cancel: () => this.#timers.delete(timer) };
  }

  /** Moves time forward by `ms`, firing due timers in time order (including those they schedule). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = [...this.#timers].filter((timer) => timer.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.#timers.delete(next);
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
  }
}

/** Re-runs `probe` until it returns something other than undefined; fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(10);
  }
}

/** A simulator on port 0 with the demo keys, its log lines kept in `logs`, and helpers bound to it. */
export interface TestSimulator {
  simulator: Simulator;
  url: string;
  logs: string[];
  signingKey: KeyWithId;
  /** The key served at `/__sim/encryption-key`. */
  encryptionJwk: JWK;
  call(method: Dispatcher.HttpMethod, urlPath: string, options?: CallOptions): Promise<Answer>;
  /** A fresh access token for `issuerId`. */
  token(issuerId?: string): Promise<string>;
  /** The path of a card under the banking API. */
  cardPath(cardId: string, issuerId?: string): string;
  /** Orders `cardId` with the demo card data (or `cardData`) and `overrides`. */
  order(
    cardId: string,
    options?: { overrides?: Record<string, unknown>; cardData?: Record<string, unknown>; token?: string },
  ): Promise<Answer>;
  /** The card's operations from the status endpoint, checked against the status response contract. */
  operations(cardId: string): Promise<Operation[]>;
  close(): Promise<void>;
}

/**
 * Starts a simulator; `env` adds to (and overrides) a fast, webhook-less test setup. `clock` replaces the system
 * clock; `dispatcher` carries every request of the helpers (TLS).
 */
export async function startSimulator(
  env: Record<string, string> = {},
  { clock, dispatcher }: { clock?: Clock; dispatcher?: Dispatcher } = {},
): Promise<TestSimulator> {
  const { dir, signingKey } = await demoKeys();
  const config = loadSimulatorConfig({
    D1_SIM_PORT: '0',
    D1_SIM_ISSUER_JWKS: path.join(dir, demoKeyFiles.signingPublicJwks),
    D1_SIM_ENCRYPTION_KEY_FILE: path.join(dir, demoKeyFiles.encryptionPrivateJwk),
    D1_SIM_WEBHOOK_URL: 'none',
    D1_SIM_STEP_DELAY: '20ms',
    D1_SIM_NOTIFY_RETRY_BASE: '10ms',
    D1_SIM_NOTIFY_TIMEOUT: '2s',
    ...env,
  });
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => logs.push(line) });
  const simulator = await createSimulator(config, { logger, ...(clock && { clock }) });
  const base = simulator.url;
  const bound = (method: Dispatcher.HttpMethod, urlPath: string, options?: CallOptions) =>
    call(base, method, urlPath, { ...(dispatcher && { dispatcher }), ...options });
  const encryptionJwk = (await bound('GET', '/__sim/encryption-key')).json as JWK;

  const token = async (issuerId = ISSUER_ID) => {
    // The assertion is dated on the simulator's clock, which a test may have moved.
    const now = Math.floor((clock ?? Date).now() / 1000);
    const claims = { iss: issuerId, sub: issuerId, iat: now, exp: now + 300 };
    const answer = await bound('POST', '/authz/v1/oauth2/token', {
      form: { grant_type: JWT_BEARER_GRANT, assertion: await makeAssertion(signingKey, claims) },
    });
    if (answer.status !== 200) throw new Error(`no token: ${answer.text}`);
    return answer.json.access_token as string;
  };
  const cardPath = (cardId: string, issuerId = ISSUER_ID) => `/banking/v1/issuers/${issuerId}/physicalCards/${cardId}`;
  return {
    simulator,
    url: base,
    logs,
    signingKey,
    encryptionJwk,
    call: bound,
    token,
    cardPath,
    async order(cardId, { overrides, cardData = CARD_DATA, token: given } = {}) {
      const encrypted = await encryptCardData(cardData, encryptionJwk);
      return bound('POST', `${cardPath(cardId)}/operations:production`, {
        token: given ?? (await token()),
        json: orderBody(encrypted, overrides),
      });
    },
    async operations(cardId) {
      const answer = await bound('GET', `${cardPath(cardId)}/productionStatus`, { token: await token() });
      if (answer.status !== 200) throw new Error(`status answered ${answer.status}: ${answer.text}`);
      return productionStatusResponseSchema.parse(answer.json).operations;
    },
    close: () => simulator.close(),
  };
}
