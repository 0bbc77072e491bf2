/**
 * The codec server's audit trail: one log line per `/encode` and `/decode` call, whatever its end, saying who
 * (the token's subject, `static token`, or `demo`), how they proved it, which namespace, how many payloads and what
 * came of it. Never a payload, a token or a claim other than the subject. A counter of the same calls, by subject
 * and outcome, for alerts (a burst of decodes by one person, refusals).
 *
 * @module
 */
import type { Server } from 'node:http';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { serveMetrics } from '../common/metrics-endpoint.js';
import type { CallerVia } from './access.js';

/**
 * What came of a call: done, no valid token (401), not allowed (403: namespace or origin), bad request, failed, or
 * its caller gone before the answer (499).
 */
export type CodecOutcome = 'allowed' | 'unauthenticated' | 'forbidden' | 'invalid' | 'failed' | 'aborted';

export interface CodecAuditEntry {
  action: 'encode' | 'decode';
  /** Absent when no token was verified. */
  subject: string | undefined;
  via: CallerVia | undefined;
  namespace: string | undefined;
  payloads: number;
  status: number;
  /** The refusal's code (INVALID_TOKEN, NAMESPACE_FORBIDDEN...), when refused. */
  errorCode: string | undefined;
}

export function outcomeOf(status: number): CodecOutcome {
  if (status < 400) return 'allowed';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 499) return 'aborted';
  return status < 500 ? 'invalid' : 'failed';
}

export class CodecMetrics {
  readonly registry = new Registry();
  readonly calls = new Counter({
    name: 'codec_server_calls_total',
    help: 'Calls to /encode and /decode, by action, subject (the token\'s sub, "static token", "demo", "(none)") and outcome',
    labelNames: ['action', 'subject', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  serve(host: string, port: number): Promise<{ url: string; server: Server }> {
    return serveMetrics(this.registry, host, port);
  }
}

/** Writes the audit line of one call and counts it. */
export class CodecAudit {
  constructor(
    private readonly logger: Logger,
    private readonly metrics?: CodecMetrics,
  ) {}

  record(entry: CodecAuditEntry): void {
    const outcome = outcomeOf(entry.status);
    this.logger.info({ audit: 'codec-server', ...entry, outcome }, `codec ${entry.action} ${outcome}`);
    this.metrics?.calls.inc({ action: entry.action, subject: entry.subject ?? '(none)', outcome });
  }
}
