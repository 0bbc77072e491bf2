/**
 * The simulator's own endpoints under `/__sim` (no auth; a test tool, not part of D1): faults, reset, token
 * revocation, what was ordered and notified, the order calls counted, and the public encryption key; plus `/healthz`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import { z } from 'zod';
import { issuerIdSchema } from '../d1/schemas.js';
import type { TokenService } from './auth.js';
import { faultsPatchSchema, type FaultState } from './faults.js';
import { parseOrRefuse, refuseOtherMethods, requireMediaType } from '../common/http-errors.js';
import type { Notifier } from './notifier.js';
import type { OrderStore } from './orders.js';

export interface ControlRouteDependencies {
  tokens: TokenService;
  orders: OrderStore;
  faults: FaultState;
  /** Absent when no webhook is configured. */
  notifier: Notifier | undefined;
  publicEncryptionKey: JWK;
}

const revokeSchema = z.strictObject({ issuerId: issuerIdSchema.optional() });

/** Registers `/healthz` and the `/__sim` endpoints on `app`. */
export function registerControlRoutes(app: FastifyInstance, deps: ControlRouteDependencies): void {
  const { tokens, orders, faults, notifier } = deps;

  app.get('/healthz', () => ({ status: 'ok' }));

  app.get('/__sim/faults', () => faults.current);
  app.post('/__sim/faults', (request) => {
    requireMediaType(request);
    return faults.merge(parseOrRefuse(faultsPatchSchema, request.body));
  });

  app.post('/__sim/reset', (request, reply) => {
    requireMediaType(request, { optional: true });
    orders.reset();
    tokens.reset();
    faults.reset();
    notifier?.reset();
    reply.code(204).send();
  });

  app.post('/__sim/tokens/revoke', (request, reply) => {
    requireMediaType(request, { optional: true });
    tokens.revoke(parseOrRefuse(revokeSchema, request.body ?? {}).issuerId);
    reply.code(204).send();
  });

  app.get('/__sim/orders', () => orders.list());
  app.get('/__sim/stats', () => ({ ...orders.stats(), notificationsPending: notifier?.pending() ?? 0 }));
  app.get('/__sim/notifications', () => notifier?.records() ?? []);
  app.get('/__sim/encryption-key', () => deps.publicEncryptionKey);

  refuseOtherMethods(app, '/__sim/faults', ['GET', 'POST']);
  for (const url of ['/healthz', '/__sim/orders', '/__sim/stats', '/__sim/notifications', '/__sim/encryption-key']) {
    refuseOtherMethods(app, url, ['GET']);
  }
  refuseOtherMethods(app, '/__sim/reset', ['POST']);
  refuseOtherMethods(app, '/__sim/tokens/revoke', ['POST']);
}
