/**
 * Turns D1's HTTP answers and transport failures into typed errors with a retry verdict (../shared/d1-api.md,
 * Part A). This and `client.ts` are the only places in the project that look at HTTP status codes.
 *
 * @module
 */
import {
  D1BadRequestError,
  D1ConflictError,
  D1ForbiddenError,
  D1NetworkError,
  D1NotFoundError,
  D1RateLimitedError,
  D1TimeoutError,
  D1TokenRejectedError,
  D1UnauthorizedError,
  D1UnavailableError,
  D1InvalidResponseError,
  type AnyD1Error,
  type D1ErrorContext,
} from './errors.js';
import { describeIssues } from '../common/zod-issues.js';
import { errorBodySchema, type ErrorBody } from './report-schemas.js';

/** When D1 sends no usable Retry-After with a 429. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/** Card numbers must never travel on in an error message, even if a remote party echoed one. */
function scrub(text: string): string {
  return text.replace(/\d{12,19}/g, '[REDACTED]').slice(0, 300);
}

/** `Retry-After` as seconds or an HTTP date, in ms from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number {
  const header = Array.isArray(value) ? value[0] : value;
  if (!header) return DEFAULT_RETRY_AFTER_MS;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? DEFAULT_RETRY_AFTER_MS : Math.max(0, date - now);
}

/**
 * D1's error body as far as it keeps its contract: a field that breaks it (an oversize `error`, say) is left out and
 * named in `refused` (field and rule, never the value), and the rest kept, since the status classifies the answer
 * anyway. A body that is not a JSON object (a proxy's HTML page) gives nothing.
 */
function readErrorBody(body: string): { parsed: ErrorBody; refused: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { parsed: {}, refused: [] };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { parsed: {}, refused: [] };
  const first = errorBodySchema.safeParse(json);
  if (first.success) return { parsed: first.data, refused: [] };
  const issues = describeIssues(first.error);
  const kept: Record<string, unknown> = { ...json };
  for (const { field } of issues) delete kept[field.split('.')[0] ?? field];
  const second = errorBodySchema.safeParse(kept);
  return {
    parsed: second.success ? second.data : {},
    refused: issues.map((issue) => `${issue.field} ${issue.reason}`),
  };
}

/**
 * The typed error for a non-2xx answer to `operation` (e.g. "order card"). `body` is the raw response text.
 * A 401 maps to `D1UnauthorizedError`; the client refreshes its token once before letting it through.
 */
export function errorFromResponse(
  operation: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  correlationId: string,
): AnyD1Error {
  const { parsed, refused } = readErrorBody(body);
  // OAuth errors carry their code in `error` (`invalid_grant`); D1's own carry it in `errorCode`.
  const d1ErrorCode =
    parsed.errorCode ?? (parsed.error && /^[A-Za-z0-9_]+$/.test(parsed.error) ? parsed.error : undefined);
  const detail = scrub([parsed.errorCode, parsed.error_description ?? parsed.error].filter(Boolean).join(': '));
  const refusal = refused.length > 0 ? `; its error body breaks the contract: ${refused.join('; ')}` : '';
  const message = `D1 answered ${status} to ${operation}${detail ? ` (${detail})` : ''}${refusal}`;
  const context: D1ErrorContext = { httpStatus: status, d1ErrorCode, correlationId };

  if (status === 400 && operation === 'get token') return new D1TokenRejectedError(message, context);
  if (status === 401) return new D1UnauthorizedError(message, context);
  if (status === 403) return new D1ForbiddenError(message, context);
  if (status === 404) return new D1NotFoundError(message, context);
  if (status === 409) return new D1ConflictError(message, context);
  if (status === 429) return new D1RateLimitedError(message, parseRetryAfter(headers['retry-after']), context);
  if (status >= 500) return new D1UnavailableError(message, context);
  if (status >= 400) return new D1BadRequestError(message, context);
  return new D1InvalidResponseError(message, context);
}

const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The typed error for a request that got no HTTP answer: a timeout, or a failed or reset connection. */
export function errorFromTransport(
  operation: string,
  err: unknown,
  correlationId: string,
  timedOut: boolean,
): AnyD1Error {
  const code = (err as { code?: string } | undefined)?.code;
  const name = (err as { name?: string } | undefined)?.name;
  if (timedOut || (code && timeoutCodes.has(code)) || name === 'TimeoutError') {
    return new D1TimeoutError(`D1 did not answer ${operation} in time`, { correlationId, cause: err });
  }
  const reason = scrub(code ?? (err as Error | undefined)?.message ?? 'unknown error');
  return new D1NetworkError(`The connection to D1 failed during ${operation} (${reason})`, {
    correlationId,
    cause: err,
  });
}
