/**
 * The webhook's Prometheus metrics, served on a port of their own (the notification port faces D1): requests by
 * route and status, how long handing a batch to Temporal takes, operations by outcome (rejected and late ones
 * included), signals sent, and visibility lookups.
 *
 * @module
 */
import type { Server } from 'node:http';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { serveMetrics } from '../common/metrics-endpoint.js';

export class WebhookMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'webhook_requests_total',
    help: 'Requests to the webhook, by route and HTTP status',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly signalSeconds = new Histogram({
    name: 'webhook_signal_duration_seconds',
    help: 'Time to hand one notification batch to Temporal',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly operations = new Counter({
    name: 'webhook_operations_total',
    help:
      'Notified operations by outcome: order (signalled to the order its issuerRequestId names), order_by_card ' +
      '(to the running order of its card), late (its order exists but has ended), unmatched (no order: kept in the ' +
      "card's unmatched record), rejected (invalid, reported in the answer)",
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly signals = new Counter({
    name: 'webhook_signals_total',
    help: 'Signals sent to workflows (one per order and batch, however many operations it carries)',
    registers: [this.registry],
  });
  readonly orderLookups = new Counter({
    name: 'webhook_order_lookups_total',
    help: 'Visibility queries for the order of a card (operations without a usable issuerRequestId)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Serves `GET /metrics` on `host:port` (0 picks a free port); resolves with its URL. */
  serve(host: string, port: number): Promise<{ url: string; server: Server }> {
    return serveMetrics(this.registry, host, port);
  }
}
