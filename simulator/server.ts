/**
 * The D1 simulator as one HTTP(S) server: `createSimulator(config)` loads the keys, wires the order store, the
 * notifier and the fault state to the routes, and listens. A local stand-in for Thales D1 that the client and
 * its tests run against, strict enough that a client bug fails here as it would at D1.
 *
 * @module
 */
import type { Socket } from 'node:net';
import formbody from '@fastify/formbody';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { JWK } from 'jose';
import { createLogger, type Logger } from '../common/logger.js';
import { readServerTls } from '../common/server-tls.js';
import { loadIssuerKeys, TokenService } from './auth.js';
import { systemClock, type Clock } from './clock.js';
import type { SimulatorConfig } from './config.js';
import { registerControlRoutes } from './control-routes.js';
import { registerD1Routes } from './d1-routes.js';
import { loadEncryptionKeyPair } from './encrypted-data.js';
import { FaultState } from './faults.js';
import { HttpError, installErrorHandling, listenOn } from '../common/http-errors.js';
import { Notifier } from './notifier.js';
import { OrderStore } from './orders.js';

export interface SimulatorOptions {
  /** Where the simulator logs (one line per request, never a body, token or card value). @default JSON on stderr */
  logger?: Logger;
  /** Time and timers; tests pass one to move time. @default the system clock */
  clock?: Clock;
}

/** A running simulator. */
export interface Simulator {
  /** The Fastify instance (e.g. for `inject`). */
  readonly app: FastifyInstance;
  /** Where it listens, e.g. `http://127.0.0.1:8090`: the actual port when the configured one was 0. */
  readonly url: string;
  /** The public JWK `encryptedData` must be encrypted to (what `GET /__sim/encryption-key` answers). */
  readonly encryptionKey: JWK;
  /** Stops the lifecycles and deliveries, drops requests held by `timeoutRate`, and closes the server. */
  close(): Promise<void>;
}

/**
 * Starts a simulator on `config.host:config.port` (port 0 picks a free one).
 *
 * @throws {KeyMaterialError} when a key or certificate file is missing or unusable.
 * @throws {PortInUseError} when the port is taken.
 */
export async function createSimulator(config: SimulatorConfig, options: SimulatorOptions = {}): Promise<Simulator> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ logLevel: config.logLevel }, 'd1-simulator');
  const [jwks, encryptionKey, https] = await Promise.all([
    loadIssuerKeys(config.issuerJwksFile),
    loadEncryptionKeyPair(config.encryptionKeyFile),
    readServerTls(config.tls, 'simulator'),
  ]);

  const faults = new FaultState();
  faults.merge(config.faults);
  const notifier =
    config.webhook.urls.length === 0
      ? undefined
      : new Notifier({ ...config.webhook, webhookUrls: config.webhook.urls, clock, faults, logger });
  const orders = new OrderStore({
    clock,
    stepDelayMs: config.stepDelayMs,
    faults,
    onOperation: (issuerId, operation) => notifier?.enqueue(issuerId, operation),
  });
  const tokens = new TokenService({ jwks, issuerIds: config.issuerIds, clock });
  const closing = new AbortController();
  const held = new Set<Socket>();

  // Typed as Fastify's base logger, the app stays the plain FastifyInstance the route modules take.
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    // One line per request comes from the onResponse hook below, without Fastify's request serializers.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    ...(https && { https }),
    frameworkErrors: (_error, _request, reply: FastifyReply) => {
      const error = new HttpError(400, 'INVALID_REQUEST', 'the request line or headers are malformed');
      void reply.code(400).send(error.body);
    },
  });
  // Only JSON (and forms, for the token endpoint) are bodies here; anything else is 415. An empty JSON body is no
  // body, so `POST /__sim/reset` works from clients that always send the header; D1 endpoints still refuse it.
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    body.length === 0 ? done(null, undefined) : parseJson(request, body.toString(), done),
  );
  await app.register(formbody);
  installErrorHandling(app, config.bodyLimitBytes);
  app.addHook('onResponse', (request, reply, done) => {
    const { issuerId } = (request.params ?? {}) as { issuerId?: string };
    // The route pattern, not the URL: a buggy client could put card data in a path or query.
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url?.replaceAll('::', ':') ?? '(none)',
        issuerId,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
    done();
  });

  registerD1Routes(app, {
    tokens,
    orders,
    faults,
    encryptionKey,
    expFormat: config.expFormat,
    extraOrderFields: config.extraOrderFields,
    updateOrderIdempotencyHeader: config.updateOrderIdempotencyHeader,
    tokenTtlSeconds: config.tokenTtlSeconds,
    clock,
    closing: closing.signal,
    hold: (request, reply) => {
      reply.hijack();
      const { socket } = request.raw;
      held.add(socket);
      socket.once('close', () => held.delete(socket));
      request.log.info('order accepted, answer withheld (timeoutRate)');
    },
  });
  registerControlRoutes(app, {
    tokens,
    orders,
    faults,
    notifier,
    publicEncryptionKey: encryptionKey.publicJwk,
    controlFromAnyHost: config.controlFromAnyHost,
  });

  let url: string;
  try {
    url = await listenOn(app, {
      host: config.host,
      port: config.port,
      portVariable: 'D1_SIM_PORT',
      secure: https !== undefined,
    });
  } catch (err) {
    await notifier?.close();
    await app.close();
    throw err;
  }

  let closed: Promise<void> | undefined;
  return {
    app,
    url,
    encryptionKey: encryptionKey.publicJwk,
    close: () =>
      (closed ??= (async () => {
        closing.abort();
        orders.reset();
        await notifier?.close();
        for (const socket of held) socket.destroy();
        await app.close();
      })()),
  };
}
