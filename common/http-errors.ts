/**
 * Every error answer of our HTTP servers (the webhook, the simulator): JSON `{errorCode, error}`, plus `fields`
 * naming what is wrong (never a value), whatever went wrong, including malformed bodies, wrong content types,
 * oversized bodies, unknown paths and wrong methods.
 *
 * @module
 */
import type { AddressInfo } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import type { z } from 'zod';
import { PortInUseError } from './errors.js';
import { describeIssues } from './zod-issues.js';

/** One thing wrong with a request: where (`shipment.deliveryAddress.countryCode`, `issuerId`) and why. */
export interface FieldIssue {
  field: string;
  reason: string;
}

/** A refused request, thrown by routes and hooks and answered by the error handler. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: string,
    message: string,
    readonly extra: { fields?: FieldIssue[]; headers?: Record<string, string>; oauth?: boolean } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  /** 400 naming each field and why; `errorCode` INVALID_FIELD unless told otherwise. */
  static invalid(fields: FieldIssue[], errorCode = 'INVALID_FIELD'): HttpError {
    const message = fields.map((issue) => `${issue.field}: ${issue.reason}`).join('; ');
    return new HttpError(400, errorCode, message, { fields });
  }

  /** An OAuth 2.0 token endpoint refusal (RFC 6749 §5.2): `error` is the code, `error_description` the text. */
  static oauth(error: string, description: string, fields?: FieldIssue[]): HttpError {
    return new HttpError(400, error, description, { oauth: true, ...(fields && { fields }) });
  }

  get body(): Record<string, unknown> {
    const fields = this.extra.fields && { fields: this.extra.fields };
    return this.extra.oauth
      ? { errorCode: this.errorCode, error: this.errorCode, error_description: this.message, ...fields }
      : { errorCode: this.errorCode, error: this.message, ...fields };
  }
}

/** zod issues as field issues under `prefix` (e.g. a path parameter's name). */
export function fieldIssues(error: z.ZodError, prefix = ''): FieldIssue[] {
  return describeIssues(error).map(({ field, reason }) => ({
    field: prefix ? (field === '(body)' ? prefix : `${prefix}.${field}`) : field,
    reason,
  }));
}

/** Parses `value` or throws a 400 naming every bad field. */
export function parseOrRefuse<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw HttpError.invalid(fieldIssues(parsed.error, prefix));
  return parsed.data;
}

/** Throws 415 unless the request says its body is JSON (or, with `allowForm`, an HTML form). */
export function requireMediaType(request: FastifyRequest, { allowForm = false, optional = false } = {}): void {
  const contentType = request.headers['content-type'];
  const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'];
  if (optional && !contentType && !hasBody) return;
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/json') return;
  if (allowForm && mediaType === 'application/x-www-form-urlencoded') return;
  const expected = allowForm ? 'application/json or application/x-www-form-urlencoded' : 'application/json';
  throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${expected}`);
}

/** Fastify's own errors (body parsing, limits) as our errors; messages are fixed texts, never body excerpts. */
function fromFastifyError(error: FastifyError, bodyLimit: number): HttpError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${bodyLimit} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type is not supported here');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, 'INVALID_REQUEST', 'Content-Length does not match the body');
    default:
      if (error.statusCode === 400) {
        // JSON.parse messages quote the body, which may hold card data: name the problem, not the text.
        return HttpError.invalid([{ field: '(body)', reason: 'is not valid JSON' }], 'INVALID_JSON');
      }
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return new HttpError(error.statusCode, 'INVALID_REQUEST', 'the request cannot be processed');
      }
      return new HttpError(500, 'INTERNAL_ERROR', 'the server failed; see its log');
  }
}

function send(reply: FastifyReply, error: HttpError): FastifyReply {
  return reply
    .code(error.statusCode)
    .headers(error.extra.headers ?? {})
    .type('application/json; charset=utf-8')
    .send(error.body);
}

/**
 * Answers every failure as JSON: our own refusals as they are, Fastify's with a stable code, anything else 500
 * (logged by message only), and unknown paths 404.
 */
export function installErrorHandling(app: FastifyInstance, bodyLimit: number): void {
  app.setErrorHandler((error: FastifyError | HttpError, request, reply) => {
    if (error instanceof HttpError) return send(reply, error);
    const mapped = fromFastifyError(error, bodyLimit);
    if (mapped.statusCode >= 500) request.log.error({ err: { message: error.message, code: error.code } }, 'failed');
    return send(reply, mapped);
  });
  app.setNotFoundHandler((request, reply) =>
    send(reply, new HttpError(404, 'NOT_FOUND', `no endpoint answers ${request.method} at this path`)),
  );
}

const allMethods: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** Makes every other method on `url` answer 405 with `Allow`, before any body is read. */
export function refuseOtherMethods(app: FastifyInstance, url: string, allowed: readonly HTTPMethods[]): void {
  const allow = allowed.includes('GET') ? [...allowed, 'HEAD'] : [...allowed];
  const others = allMethods.filter((method) => !allow.includes(method));
  const shown = url.replaceAll('::', ':');
  app.route({
    method: others,
    url,
    onRequest: (_request, _reply, done) =>
      done(
        new HttpError(405, 'METHOD_NOT_ALLOWED', `${shown} accepts ${allow.join(', ')}`, {
          headers: { allow: allow.join(', ') },
        }),
      ),
    handler: () => undefined,
  });
}

/**
 * Listens on `host:port` (0 picks a free port) and resolves with the server's URL. A taken port becomes a
 * {@link PortInUseError} naming `portVariable`, the setting that moves it.
 */
export async function listenOn(
  app: FastifyInstance,
  { host, port, portVariable, secure }: { host: string; port: number; portVariable: string; secure: boolean },
): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(port, portVariable);
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${secure ? 'https' : 'http'}://${shown}:${address.port}`;
}
