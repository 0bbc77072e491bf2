/**
 * The codec server: Temporal Web UI and `temporal --codec-endpoint` send it encrypted payloads to decode (and
 * clear ones to encode), so operators read order histories without the keys ever leaving our side. It answers
 * only the allowed browser origins, and, when a token is configured, only calls that carry it.
 *
 * @module
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Config } from '../common/config.js';
import {
  HttpError,
  installErrorHandling,
  listenOn,
  parseOrRefuse,
  refuseOtherMethods,
  requireMediaType,
} from '../common/http-errors.js';
import type { Logger } from '../common/logger.js';

/**
 * The codec protocol's body: proto3 JSON, so every bytes field (data, each metadata value) is base64, and an empty
 * list is left out: `{}` is an empty `Payloads` (e.g. the input of an update without arguments, as the cancel
 * update's), answered with an empty list.
 */
const payloadsSchema = z.strictObject({
  payloads: z
    .array(
      z.looseObject({
        metadata: z.record(z.string(), z.base64()).optional(),
        data: z.base64().optional(),
      }),
    )
    .nullish()
    .transform((payloads) => payloads ?? []),
});
type JsonPayload = z.output<typeof payloadsSchema>['payloads'][number];

const fromJson = (payload: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(payload.data ?? '', 'base64'),
});

const toJson = (payload: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
  ),
  data: Buffer.from(payload.data ?? []).toString('base64'),
});

const digest = (value: string) => createHash('sha256').update(value).digest();

export interface CodecServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function createCodecServer(
  config: Config,
  { codec, logger }: { codec: PayloadCodec; logger: Logger },
): Promise<CodecServer> {
  const { allowedOrigins, authToken } = config.codecServer;
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({ loggerInstance, disableRequestLogging: true, bodyLimit: 4 * 1024 * 1024 });
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app, 4 * 1024 * 1024);

  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (!allowedOrigins.includes(origin))
        throw new HttpError(403, 'ORIGIN_NOT_ALLOWED', 'this origin may not call the codec server');
      void reply.headers({
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, x-namespace, authorization',
        'access-control-allow-credentials': 'true',
        vary: 'origin',
      });
    }
    if (request.method === 'OPTIONS') return reply.code(204).send();
    if (authToken) {
      const given = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
      if (!timingSafeEqual(digest(given), digest(authToken))) {
        throw new HttpError(401, 'UNAUTHORIZED', 'a valid Authorization: Bearer token is required');
      }
    }
    return undefined;
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(none)',
        status: reply.statusCode,
        namespace: request.headers['x-namespace'],
      },
      'request',
    );
    done();
  });

  for (const action of ['encode', 'decode'] as const) {
    for (const url of [`/${action}`, `/:namespace/${action}`]) {
      app.post(url, async (request) => {
        requireMediaType(request);
        const { payloads } = parseOrRefuse(payloadsSchema, request.body);
        if (payloads.length === 0) return { payloads: [] };
        const converted = await codec[action](payloads.map(fromJson));
        return { payloads: converted.map(toJson) };
      });
      app.options(url, (_request, reply) => reply.code(204).send());
      refuseOtherMethods(app, url, ['POST', 'OPTIONS']);
    }
  }

  const url = await listenOn(app, {
    host: config.codecServer.host,
    port: config.codecServer.port,
    portVariable: 'CODEC_SERVER_PORT',
    secure: false,
  });
  return { app, url, close: () => app.close() };
}
