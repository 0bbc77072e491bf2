/**
 * The issuer endpoint D1 calls: its token endpoint (client credentials, Basic auth) and the notification endpoint
 * that turns reported operations into workflow signals (one per order and batch, see `notification-router.ts`).
 * Operations are validated one by one: a batch is answered 204 once Temporal took every operation, 200
 * `{accepted, rejected}` once it took every valid one and some were invalid (they are reported, not retried), 503
 * when Temporal did not take the valid ones (D1 retries). Only a body that is not a batch at all, or an
 * unauthenticated call, is refused whole with a JSON 4xx; bad data never gets a 5xx.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import formbody from '@fastify/formbody';
import type { Client } from '@temporalio/client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { basicCredentialCandidates } from '../common/basic-auth.js';
import type { Config } from '../config/config.js';
import {
  fieldIssues,
  HttpError,
  installErrorHandling,
  listenOn,
  parseOrRefuse,
  refuseOtherMethods,
  requireMediaType,
} from '../common/http-errors.js';
import type { Logger } from '../common/logger.js';
import { readServerTls } from '../common/server-tls.js';
import { correlationIdSchema, d1StringBounds, issuerIdSchema } from '../d1/schemas.js';
import { MAX_REPORTED_OPERATIONS, operationSchema, type Operation } from '../d1/report-schemas.js';
import type { WebhookMetrics } from './metrics.js';
import { NotificationRouter, type BatchDelivery } from '../temporal/notification-router.js';
import type { WebhookTokens } from './tokens.js';

export const webhookPaths = {
  token: '/authz/d1/v1/oauth2/token',
  notifications: '/notifications/d1/v2/issuers/:issuerId/cards',
} as const;

/** The most operations a batch may hold, as D1's notification schema (`notificationBatchSchema`) allows. */
export const MAX_BATCH_OPERATIONS = MAX_REPORTED_OPERATIONS;

/**
 * What makes a body a batch at all: anything else is refused whole (4xx). Its operations are then validated one by
 * one, so a bad one is reported, not fatal to the rest.
 */
const batchSchema = z.looseObject({ operations: z.array(z.unknown()).min(1).max(MAX_BATCH_OPERATIONS) });

/** One problem with one operation of a batch: its index, the field (`operations.3.startTime`) and why. */
export interface RejectedOperation {
  index: number;
  field: string;
  message: string;
}

/** The 200 answer to a batch of which some operations were invalid: the valid ones are stored, the rest listed. */
export interface PartialBatchAnswer {
  /** How many operations were stored (signalled, or recorded as late or unmatched). */
  accepted: number;
  /** Every problem found, by operation; an operation may appear more than once. */
  rejected: RejectedOperation[];
}

const tokenRequestSchema = z.strictObject({
  grant_type: z.literal('client_credentials', { error: 'must be client_credentials' }),
  scope: z.string().max(d1StringBounds.scope).optional(),
});

export interface WebhookServer {
  app: FastifyInstance;
  /** Where it listens: the actual port when the configured one was 0. */
  url: string;
  close(): Promise<void>;
}

export interface WebhookDependencies {
  /** A Temporal client with the payload codec: signals are encrypted like every payload. */
  client: Client;
  tokens: WebhookTokens;
  logger: Logger;
  metrics?: WebhookMetrics;
}

/** Builds the webhook and listens on `config.webhook.host:port` (0 picks a free port). */
export async function createWebhookServer(config: Config, deps: WebhookDependencies): Promise<WebhookServer> {
  const { client, tokens, logger, metrics } = deps;
  const router = new NotificationRouter(client, config.temporal.taskQueue, {
    unmatchedRetentionMs: config.webhook.unmatchedRetentionMs,
    metrics,
  });
  const { bodyLimitBytes, signalTimeoutMs } = config.webhook;
  const https = await readServerTls(config.webhook.tls, 'webhook');
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    // Our own onResponse hook logs each request (the route pattern, never the URL): not fastify's lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: bodyLimitBytes,
    genReqId: (request) => {
      const header = request.headers['x-correlation-id'];
      // No header (D1 sends none): a fresh id, without a failed parse (a zod error) on every request.
      if (header === undefined) return randomUUID();
      const given = correlationIdSchema.safeParse(header);
      return given.success ? given.data : randomUUID();
    },
    ...(https && { https }),
  });
  app.removeContentTypeParser('text/plain');
  await app.register(formbody);
  installErrorHandling(app, bodyLimitBytes);

  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-correlation-id', request.id);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const { issuerId } = (request.params ?? {}) as { issuerId?: string };
    // A getter that builds an object on each read: read once.
    const route = request.routeOptions.url ?? '(none)';
    metrics?.requests.inc({ route, status: String(reply.statusCode) });
    // The route pattern, never the URL or the body: nothing a caller sends is echoed into the log.
    request.log.info(
      {
        correlationId: request.id,
        method: request.method,
        route,
        issuerId,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
    done();
  });

  app.post(webhookPaths.token, async (request, reply) => {
    const client = basicCredentialCandidates(request.headers.authorization)
      .map(({ clientId, clientSecret }) => tokens.authenticate(clientId, clientSecret))
      .find((found) => found !== undefined);
    if (!client) {
      throw new HttpError(401, 'invalid_client', 'unknown client or wrong secret', {
        oauth: true,
        headers: { 'www-authenticate': 'Basic realm="d1-card-orders"' },
      });
    }
    requireMediaType(request, { allowForm: true });
    const body = tokenRequestSchema.safeParse(request.body ?? {});
    if (!body.success) throw HttpError.oauth('unsupported_grant_type', 'grant_type must be client_credentials');
    // RFC 6749 §5.1: an answer carrying a token must not be cached, by HTTP/1.1 caches or older ones.
    return reply
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .send(await tokens.issue(client));
  });
  refuseOtherMethods(app, webhookPaths.token, ['POST']);

  app.post(webhookPaths.notifications, {
    // Who may call, and with what, is settled before the body is read.
    onRequest: async (request) => {
      const bearer = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      // RFC 6750 §3: a 401 names the scheme to use; the error attribute only when a token was sent (§3.1).
      if (!bearer) {
        throw new HttpError(401, 'UNAUTHORIZED', 'a Bearer token from the token endpoint is required', {
          headers: { 'www-authenticate': 'Bearer' },
        });
      }
      let allowed: readonly string[];
      try {
        allowed = await tokens.verify(bearer);
      } catch {
        throw new HttpError(401, 'UNAUTHORIZED', 'the token is invalid or expired', {
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
        });
      }
      const { issuerId } = request.params as { issuerId: string };
      parseOrRefuse(issuerIdSchema, issuerId, 'issuerId');
      if (!allowed.includes(issuerId)) throw new HttpError(403, 'FORBIDDEN', 'the token is not for this issuer');
      requireMediaType(request);
    },
    handler: async (request, reply) => {
      const { issuerId } = request.params as { issuerId: string };
      const batch = parseOrRefuse(batchSchema, request.body);
      // Each operation on its own: one bad operation must not cost the valid ones (D1 would redeliver them all).
      const valid: Operation[] = [];
      const rejected: RejectedOperation[] = [];
      batch.operations.forEach((candidate, index) => {
        const parsed = operationSchema.safeParse(candidate);
        if (parsed.success) return void valid.push(parsed.data);
        for (const issue of fieldIssues(parsed.error, `operations.${index}`)) {
          rejected.push({ index, field: issue.field, message: issue.reason });
        }
      });
      const rejectedCount = new Set(rejected.map((entry) => entry.index)).size;
      if (rejectedCount > 0) {
        metrics?.operations.inc({ outcome: 'rejected' }, rejectedCount);
        // Where and what kind, never a value: the operations may carry card data.
        request.log.warn(
          {
            correlationId: request.id,
            issuerId,
            accepted: valid.length,
            rejected: rejected.map(({ index, field }) => ({ index, field })),
          },
          'invalid operations rejected',
        );
      }

      if (valid.length > 0) {
        const deadline = Date.now() + signalTimeoutMs;
        const timer = metrics?.signalSeconds.startTimer();
        let delivery: BatchDelivery;
        try {
          delivery = await client.withDeadline(deadline, () => router.deliverBatch(issuerId, valid));
          timer?.({ outcome: 'stored' });
        } catch (err) {
          timer?.({ outcome: 'failed' });
          request.log.warn(
            { correlationId: request.id, err: { name: (err as Error).name } },
            'Temporal did not take the batch',
          );
          throw new HttpError(503, 'TEMPORAL_UNAVAILABLE', 'the notifications could not be stored; retry later', {
            headers: { 'retry-after': '5' },
          });
        }
        if (delivery.counts.late > 0) {
          request.log.info(
            { correlationId: request.id, issuerId, late: delivery.counts.late, orders: delivery.lateOrders },
            'late notifications for ended orders',
          );
        }
      }
      if (rejected.length === 0) return reply.code(204).send();
      const body: PartialBatchAnswer = { accepted: valid.length, rejected };
      return reply.code(200).send(body);
    },
  });
  refuseOtherMethods(app, webhookPaths.notifications, ['POST']);

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await client.withDeadline(Date.now() + 2_000, () => client.workflowService.getSystemInfo({}));
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'unavailable', errorCode: 'TEMPORAL_UNAVAILABLE' });
    }
  });

  const url = await listenOn(app, {
    host: config.webhook.host,
    port: config.webhook.port,
    portVariable: 'WEBHOOK_PORT',
    secure: https !== undefined,
  });
  return { app, url, close: () => app.close() };
}
