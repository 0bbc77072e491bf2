/**
 * The webhook's Prometheus metrics, served on a port of their own (the notification port faces D1): requests by
 * route and status, and how long handing a batch to Temporal takes.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Serves `GET /metrics` on `host:port` (0 picks a free port); resolves with its URL. */
  async serve(host: string, port: number): Promise<{ url: string; server: Server }> {
    const server = createServer((request, response) => {
      if (request.method !== 'GET' || request.url !== '/metrics') return void response.writeHead(404).end();
      void this.registry.metrics().then((text) => {
        response.writeHead(200, { 'content-type': this.registry.contentType }).end(text);
      });
    });
    server.listen(port, host);
    await once(server, 'listening');
    const address = server.address() as AddressInfo;
    return { url: `http://${host}:${address.port}/metrics`, server };
  }
}
