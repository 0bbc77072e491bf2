/**
 * The codec server: Temporal Web UI and `temporal --codec-endpoint` send it encrypted payloads to decode (and
 * clear ones to encode), so operators read order histories without the keys ever leaving our side. It answers only
 * the allowed browser origins and only callers the gate lets in ({@link codecServerAccess}: a person's access token,
 * for the namespaces their groups grant, or the machines' static token), and writes one audit line per call.
 *
 * @module
 */
import type { Payload } from '@temporalio/common';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config/config.js';
import {
  HttpError,
  installErrorHandling,
  listenOn,
  parseOrRefuse,
  refuseOtherMethods,
  requireMediaType,
} from '../common/http-errors.js';
import type { Logger } from '../common/logger.js';
import { readServerTls } from '../common/server-tls.js';
import { CodecKeyError, CodecNamespaceError } from '../common/errors.js';
import { codecServerAccess, type Caller } from './access.js';
import { CodecAudit, type CodecMetrics } from './audit.js';
import type { AesGcmPayloadCodec } from './payload-codec.js';

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

/** The status an audit line gives a call whose caller went away before the answer (nginx's convention). */
const CLIENT_CLOSED = 499;

/** What one `/encode` or `/decode` call has shown so far, for its audit line. */
interface CallRecord {
  action: 'encode' | 'decode';
  namespace: string | undefined;
  caller?: Caller;
  payloads: number;
}

/** The namespace a call is for: the path's (`/{namespace}/decode`), else Web UI's `X-Namespace` header. */
function namespaceOf(params: unknown, header: string | string[] | undefined): string | undefined {
  const fromPath = (params as { namespace?: string } | undefined)?.namespace;
  return fromPath ?? (typeof header === 'string' && header !== '' ? header : undefined);
}

export interface CodecServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function createCodecServer(
  config: Config,
  { codec, logger, metrics }: { codec: AesGcmPayloadCodec; logger: Logger; metrics?: CodecMetrics },
): Promise<CodecServer> {
  const { allowedOrigins, tls } = config.codecServer;
  // Before anything listens: an open codec server outside the demo is a configuration error.
  const access = codecServerAccess(config);
  const audit = new CodecAudit(logger, metrics);
  const https = await readServerTls(tls && { ...tls, requireClientCert: false }, 'codec server');
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 4 * 1024 * 1024,
    ...(https && { https }),
  });
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app, 4 * 1024 * 1024);
  const calls = new WeakMap<object, CallRecord>();
  const refusals = new WeakMap<object, string>();
  const audited = new WeakSet<object>();

  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined) {
      if (!allowedOrigins.includes(origin))
        throw new HttpError(403, 'ORIGIN_NOT_ALLOWED', 'this origin may not call the codec server');
      void reply.headers({
        'access-control-allow-origin': origin,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'content-type, x-namespace, authorization, authorization-extras',
        'access-control-allow-credentials': 'true',
        vary: 'origin',
      });
    }
    if (request.method === 'OPTIONS') return reply.code(204).send();
    return undefined;
  });
  app.addHook('onError', (request, _reply, error, done) => {
    refusals.set(request, error instanceof HttpError ? error.errorCode : 'INTERNAL_ERROR');
    done();
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
    auditCall(request, reply.statusCode);
    done();
  });
  // A caller gone before the answer still has its line: what it asked for was done, or refused, all the same.
  app.addHook('onRequestAbort', (request, done) => {
    auditCall(request, CLIENT_CLOSED);
    done();
  });

  /** One audit line per `/encode` or `/decode` call, refused ones included (origin, token, namespace). */
  function auditCall(request: FastifyRequest, status: number): void {
    const action = /\/(encode|decode)$/.exec(request.routeOptions.url ?? '')?.[1];
    if (request.method !== 'POST' || (action !== 'encode' && action !== 'decode') || audited.has(request)) return;
    audited.add(request);
    const call = calls.get(request) ?? {
      action,
      namespace: namespaceOf(request.params, request.headers['x-namespace']),
      payloads: 0,
    };
    audit.record({
      action: call.action,
      subject: call.caller?.subject,
      via: call.caller?.via,
      namespace: call.namespace,
      payloads: call.payloads,
      status,
      errorCode: refusals.get(request),
    });
  }

  for (const action of ['encode', 'decode'] as const) {
    for (const url of [`/${action}`, `/:namespace/${action}`]) {
      app.post(url, {
        // Who calls, and for which namespace, before a byte of the body is read: a caller without a valid token
        // gets 401, never a body error, and costs no parsing.
        onRequest: async (request) => {
          const call: CallRecord = {
            action,
            namespace: namespaceOf(request.params, request.headers['x-namespace']),
            payloads: 0,
          };
          calls.set(request, call);
          call.caller = await access.authenticate(request.headers.authorization);
          const { namespaces, subject } = call.caller;
          if (namespaces === 'all') return;
          if (call.namespace === undefined) {
            throw HttpError.invalid(
              [{ field: 'x-namespace', reason: 'is required: the namespace decides what this caller may read' }],
              'NAMESPACE_REQUIRED',
            );
          }
          if (!namespaces.has(call.namespace)) {
            throw new HttpError(
              403,
              'NAMESPACE_FORBIDDEN',
              `${subject} may not ${action} payloads of namespace ${call.namespace}`,
            );
          }
        },
        handler: async (request) => {
          const call = calls.get(request);
          requireMediaType(request);
          const { payloads } = parseOrRefuse(payloadsSchema, request.body);
          if (call) call.payloads = payloads.length;
          if (payloads.length === 0) return { payloads: [] };
          // Sealed to the call's namespace: a payload of another namespace is refused, not decoded.
          const bound = call?.namespace === undefined ? codec : codec.forNamespace(call.namespace);
          try {
            const converted = await bound[action](payloads.map(fromJson));
            return { payloads: converted.map(toJson) };
          } catch (err) {
            if (err instanceof CodecNamespaceError) {
              throw new HttpError(403, 'PAYLOAD_NAMESPACE_MISMATCH', 'a payload was sealed for another namespace');
            }
            if (err instanceof CodecKeyError) {
              throw new HttpError(400, 'PAYLOAD_NOT_DECODABLE', 'a payload does not decrypt under the key it names');
            }
            throw err;
          }
        },
      });
      app.options(url, (_request, reply) => reply.code(204).send());
      refuseOtherMethods(app, url, ['POST', 'OPTIONS']);
    }
  }

  const url = await listenOn(app, {
    host: config.codecServer.host,
    port: config.codecServer.port,
    portVariable: 'CODEC_SERVER_PORT',
    secure: tls !== undefined,
  });
  return { app, url, close: () => app.close() };
}
