/**
 * The simulator's own endpoints under `/__sim` (no auth; a test tool, not part of D1): faults, reset, token
 * revocation, what was ordered and notified, the order calls counted, and the public encryption key; plus `/healthz`.
 * They answer loopback callers only, unless D1_SIM_CONTROL_FROM_ANY_HOST allows others.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import { z } from 'zod';
import { issuerIdSchema } from '../d1/schemas.js';
import type { TokenService } from './auth.js';
import { faultsPatchSchema, type FaultState } from './faults.js';
import { HttpError, parseOrRefuse, refuseOtherMethods, requireMediaType } from '../common/http-errors.js';
import type { Notifier } from './notifier.js';
import type { OrderStore } from './orders.js';

export interface ControlRouteDependencies {
  tokens: TokenService;
  orders: OrderStore;
  faults: FaultState;
  /** Absent when no webhook is configured. */
  notifier: Notifier | undefined;
  publicEncryptionKey: JWK;
  /** Whether callers from other machines may use `/__sim`. */
  controlFromAnyHost: boolean;
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  const ip = address?.replace(/^::ffff:/, '');
  return ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip ?? '');
}

const revokeSchema = z.strictObject({ issuerId: issuerIdSchema.optional() });

/** Registers `/healthz` and the `/__sim` endpoints on `app`. */
export function registerControlRoutes(app: FastifyInstance, deps: ControlRouteDependencies): void {
  const { tokens, orders, faults, notifier, controlFromAnyHost } = deps;

  if (!controlFromAnyHost) {
    app.addHook('onRequest', (request, _reply, done) => {
      // The matched route, not the raw URL: the router decodes the path, so `/%5F_sim/...` reaches `/__sim/...`.
      const control = (request.routeOptions.url ?? '').startsWith('/__sim');
      const remote = control && !isLoopback(request.socket.remoteAddress);
      done(
        remote ? new HttpError(403, 'CONTROL_LOOPBACK_ONLY', 'the /__sim routes answer this machine only') : undefined,
      );
    });
  }

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
