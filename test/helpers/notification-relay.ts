/**
 * A stand-in for the issuer webhook in saga tests: D1's token endpoint (Basic auth) and notification endpoint,
 * relaying each reported operation to its order workflow as a `d1Notification` signal.
 *
 * @module
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { notificationBatchSchema } from '../../d1/schemas.js';
import { cardOrderWorkflowId } from '../../orders/schema.js';
import { d1NotificationSignal } from '../../workflows/definitions.js';

export const RELAY_CLIENT_ID = 'd1-simulator';
export const RELAY_CLIENT_SECRET = 'd1-simulator-secret';

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

export interface NotificationRelay {
  url: string;
  close(): Promise<void>;
}

/** Starts the relay on port 0, signalling through `client`. */
export async function startNotificationRelay(client: Client): Promise<NotificationRelay> {
  const basic = `Basic ${Buffer.from(`${RELAY_CLIENT_ID}:${RELAY_CLIENT_SECRET}`).toString('base64')}`;
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      if (request.url === '/authz/d1/v1/oauth2/token') {
        if (request.headers.authorization !== basic) return void response.writeHead(401).end();
        response.writeHead(200, { 'content-type': 'application/json' });
        return void response.end(
          JSON.stringify({ access_token: 'relay-token', token_type: 'Bearer', expires_in: '900' }),
        );
      }
      const match = /^\/notifications\/d1\/v2\/issuers\/([^/]+)\/cards$/.exec(request.url ?? '');
      if (!match?.[1] || request.headers.authorization !== 'Bearer relay-token') {
        return void response.writeHead(401).end();
      }
      const issuerId = match[1];
      const batch = notificationBatchSchema.parse(JSON.parse(body));
      for (const operation of batch.operations) {
        // Re-orders carry `<id>-rN`; their order workflow is the original id's.
        const ids = [operation.issuerRequestId, operation.issuerRequestId?.replace(/-r\d+$/, '')];
        for (const id of new Set(ids)) {
          if (!id) continue;
          try {
            await client.workflow
              .getHandle(cardOrderWorkflowId(issuerId, id))
              .signal(d1NotificationSignal, { operations: [operation] });
            break;
          } catch (err) {
            if (!(err instanceof WorkflowNotFoundError)) throw err;
          }
        }
      }
      response.writeHead(204).end();
    })().catch(() => response.writeHead(503).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
