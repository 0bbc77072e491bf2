import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { notificationBatchSchema, type Operation } from '../../d1/report-schemas.js';
import { ISSUER_ID, startSimulator, waitFor, type TestSimulator } from './support.js';
import { productionLifecycle } from '../../d1/report-schemas.js';

const CLIENT_ID = 'd1-simulator';
const CLIENT_SECRET = 'd1-simulator-secret';
const LIFECYCLE = [...productionLifecycle];

interface Batch {
  issuerId: string;
  correlationId: string;
  operations: Operation[];
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An issuer webhook as Part A describes it: a Basic-auth token endpoint and a Bearer-protected notification one. */
/**
 * A webhook stand-in; replicas given the same `tokens` accept each other's tokens, as ours share their secret. It
 * expects `basic` as the token request's Authorization (default: the demo credentials, which encoding leaves as
 * they are).
 */
async function startReceiver(
  tokens = new Set<string>(),
  basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
) {
  const state = {
    batches: [] as Batch[],
    tokenRequests: 0,
    /** Answers the next this-many notifications with `failStatus`. */
    failures: 0,
    failStatus: 500,
    contractErrors: [] as string[],
  };
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      if (request.method === 'POST' && request.url === '/authz/d1/v1/oauth2/token') {
        state.tokenRequests += 1;
        if (request.headers.authorization !== basic) return response.writeHead(401).end();
        if (new URLSearchParams(body).get('grant_type') !== 'client_credentials') {
          return response.writeHead(400).end();
        }
        const token = randomUUID();
        tokens.add(token);
        // D1's documents show expires_in as a string.
        const answer = { access_token: token, token_type: 'Bearer', expires_in: '900' };
        return response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      }
      const issuerId = /^\/notifications\/d1\/v2\/issuers\/([^/]+)\/cards$/.exec(request.url ?? '')?.[1];
      if (request.method !== 'POST' || !issuerId) return response.writeHead(404).end();
      const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (!token || !tokens.has(token)) return response.writeHead(401).end();
      if (state.failures > 0) {
        state.failures -= 1;
        return response.writeHead(state.failStatus).end();
      }
      const parsed = notificationBatchSchema.safeParse(JSON.parse(body));
      if (!parsed.success || request.headers['content-type'] !== 'application/json') {
        state.contractErrors.push(body);
        return response.writeHead(400).end();
      }
      const correlationId = String(request.headers['x-correlation-id']);
      state.batches.push({ issuerId, correlationId, operations: parsed.data.operations });
      return response.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    operations: () => state.batches.flatMap((batch) => batch.operations),
    revokeTokens: () => tokens.clear(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Runs `body` against a simulator notifying a fresh receiver, and closes both. */
async function withWebhook(
  env: Record<string, string>,
  body: (sim: TestSimulator, receiver: Receiver) => Promise<void>,
  basic?: string,
): Promise<void> {
  const receiver = await startReceiver(undefined, basic);
  const sim = await startSimulator({ D1_SIM_WEBHOOK_URL: receiver.url, D1_SIM_STEP_DELAY: '10ms', ...env });
  try {
    await body(sim, receiver);
    assert.deepEqual(receiver.state.contractErrors, [], 'every notification matches notificationBatchSchema');
  } finally {
    await sim.close();
    await receiver.close();
  }
}

const receivedAtLeast = (receiver: Receiver, count: number) =>
  waitFor(() => (receiver.operations().length >= count ? receiver.operations() : undefined), `${count} operations`);
const statuses = (operations: Operation[]) => operations.map((op) => op.details.status);
const deliveries = async (sim: TestSimulator) =>
  (await sim.call('GET', '/__sim/notifications')).json as unknown as {
    state: string;
    attempts: number;
    duplicate: boolean;
    lastStatus?: number;
  }[];

describe('simulator notifications to the issuer webhook', () => {
  it('delivers every step of an order in order, with one client-credentials token and a correlation id each', async () => {
    await withWebhook({}, async (sim, receiver) => {
      const { operationId } = (await sim.order('card-notified')).json;
      const operations = await receivedAtLeast(receiver, 6);
      assert.deepEqual(statuses(operations), LIFECYCLE);
      assert.ok(operations.every((op) => op.operationId === operationId && op.operation === 'PRODUCE'));
      assert.ok(operations.every((op) => op.cardId === 'card-notified' && op.issuerRequestId));
      assert.equal(operations.at(-1)?.status, 'SUCCESSFUL');
      assert.equal(receiver.state.tokenRequests, 1, 'the token is cached');
      const { batches } = receiver.state;
      assert.ok(batches.every((batch) => batch.issuerId === ISSUER_ID && batch.operations.length === 1));
      assert.equal(new Set(batches.map((batch) => batch.correlationId)).size, 6);
      assert.equal((await sim.operations('card-notified'))[0]?.status, 'SUCCESSFUL');
    });
  });

  it('keeps each card in order when several cards are in production at once', async () => {
    await withWebhook({}, async (sim, receiver) => {
      const cards = ['card-a', 'card-b', 'card-c'];
      await Promise.all(cards.map((card) => sim.order(card)));
      const operations = await receivedAtLeast(receiver, 18);
      for (const card of cards) {
        assert.deepEqual(statuses(operations.filter((op) => op.cardId === card)), LIFECYCLE);
      }
    });
  });

  it('retries a batch with backoff until the webhook answers 2xx, losing nothing', async () => {
    await withWebhook({}, async (sim, receiver) => {
      receiver.state.failures = 3;
      await sim.order('card-retried');
      assert.deepEqual(statuses(await receivedAtLeast(receiver, 6)), LIFECYCLE);
      const [first] = await deliveries(sim);
      assert.equal(first?.state, 'delivered');
      assert.equal(first?.attempts, 4);
      assert.equal(first?.lastStatus, 500);
    });
  });

  it('sends batches to webhook replicas in turn, and a try that finds a replica down to the next one', async () => {
    const tokens = new Set<string>();
    const [a, b] = await Promise.all([startReceiver(tokens), startReceiver(tokens)]);
    const sim = await startSimulator({
      D1_SIM_WEBHOOK_URL: `${a.url},${b.url}`,
      D1_SIM_STEP_DELAY: '10ms',
      D1_SIM_NOTIFY_RETRY_BASE: '10ms',
    });
    try {
      await sim.order('card-both');
      await waitFor(() => (a.operations().length + b.operations().length >= 6 ? true : undefined), 'six operations');
      assert.ok(a.state.batches.length > 0 && b.state.batches.length > 0, 'both replicas got batches');

      await b.close();
      await sim.order('card-one-down');
      const operations = await receivedAtLeast(a, a.operations().length + 6);
      assert.deepEqual(statuses(operations.filter((op) => op.cardId === 'card-one-down')), LIFECYCLE);
      const records = await deliveries(sim);
      assert.ok(records.every((record) => record.state === 'delivered'));
      assert.ok(
        records.some((record) => record.attempts > 1),
        'tries that found the replica down were retried',
      );
    } finally {
      await sim.close();
      await a.close();
    }
  });

  it('form-urlencodes the client id and secret before base64, as RFC 6749 2.3.1 says', async () => {
    const env = { D1_SIM_WEBHOOK_CLIENT_ID: 'd1 sim:eu', D1_SIM_WEBHOOK_CLIENT_SECRET: 'p+ss/w%rd=a&b' };
    const basic = `Basic ${Buffer.from('d1+sim%3Aeu:p%2Bss%2Fw%25rd%3Da%26b').toString('base64')}`;
    await withWebhook(
      env,
      async (sim, receiver) => {
        await sim.order('card-encoded');
        await receivedAtLeast(receiver, 6);
        assert.equal(receiver.state.tokenRequests, 1);
      },
      basic,
    );
  });

  it('fetches a new token when the webhook answers 401 to the cached one', async () => {
    await withWebhook({}, async (sim, receiver) => {
      await sim.order('card-first');
      await receivedAtLeast(receiver, 6);
      receiver.revokeTokens();
      await sim.order('card-second');
      await receivedAtLeast(receiver, 12);
      assert.equal(receiver.state.tokenRequests, 2);
    });
  });

  it('gives a batch up after D1_SIM_NOTIFY_RETRY_MAX_ATTEMPTS tries, with a warning in the log', async () => {
    await withWebhook({ D1_SIM_NOTIFY_RETRY_MAX_ATTEMPTS: '3' }, async (sim, receiver) => {
      receiver.state.failures = 1_000;
      receiver.state.failStatus = 503;
      await sim.order('card-lost');
      const [first] = await waitFor(async () => {
        const records = await deliveries(sim);
        return records[0]?.state === 'failed' ? records : undefined;
      }, 'a batch given up');
      assert.equal(first?.attempts, 3);
      assert.equal(first?.lastStatus, 503);
      assert.ok(sim.logs.some((line) => line.includes('"level":40') && line.includes('given up')));
    });
  });

  it('sends every batch twice at duplicateNotificationRate 1', async () => {
    await withWebhook({ D1_SIM_FAULTS: '{"duplicateNotificationRate":1}' }, async (sim, receiver) => {
      await sim.order('card-twice');
      const operations = await receivedAtLeast(receiver, 12);
      assert.deepEqual(
        statuses(operations),
        LIFECYCLE.flatMap((status) => [status, status]),
      );
      assert.equal((await deliveries(sim)).filter((record) => record.duplicate).length, 6);
    });
  });

  it('sends pending operations newest first, in batches of batchSize, with reorderNotifications', async () => {
    const faults = { reorderNotifications: true, batchWindowMs: 300, batchSize: 3 };
    await withWebhook({ D1_SIM_FAULTS: JSON.stringify(faults) }, async (sim, receiver) => {
      await sim.order('card-reordered');
      const operations = await receivedAtLeast(receiver, 6);
      assert.deepEqual(statuses(operations), [...LIFECYCLE].reverse());
      assert.deepEqual(
        receiver.state.batches.map((batch) => batch.operations.length),
        [3, 3],
      );
    });
  });

  it('sends nothing at dropNotificationRate 1, and records the drops', async () => {
    await withWebhook({ D1_SIM_FAULTS: '{"dropNotificationRate":1}' }, async (sim, receiver) => {
      await sim.order('card-silent');
      const records = await waitFor(async () => {
        const all = await deliveries(sim);
        return all.length === 6 ? all : undefined;
      }, 'six dropped batches');
      assert.ok(records.every((record) => record.state === 'dropped'));
      assert.equal(receiver.state.batches.length, 0);
      assert.equal((await sim.operations('card-silent'))[0]?.details.status, 'CARD_SHIPPED');
    });
  });

  it('sends nothing for the cards in dropNotificationCardIds, and everything for the others', async () => {
    await withWebhook({ D1_SIM_FAULTS: '{"dropNotificationCardIds":["card-muted"]}' }, async (sim, receiver) => {
      await sim.order('card-muted');
      await sim.order('card-heard');
      const operations = await receivedAtLeast(receiver, 6);
      assert.ok(operations.every((operation) => operation.cardId === 'card-heard'));
      assert.equal((await sim.operations('card-muted'))[0]?.details.status, 'CARD_SHIPPED');
    });
  });

  it('notifies the UPDATE_ORDER outcome and the CARD_PROD_CANCELED production after a CANCEL', async () => {
    // The CANCEL must land before the first step: one token for both calls keeps them close together.
    await withWebhook({ D1_SIM_STEP_DELAY: '300ms' }, async (sim, receiver) => {
      const token = await sim.token();
      await sim.order('card-canceled', { token });
      const path = `${sim.cardPath('card-canceled')}/operations:updateOrder`;
      const answer = await sim.call('POST', path, { token, json: { type: 'CANCEL' } });
      assert.equal(answer.status, 202);
      const operations = await receivedAtLeast(receiver, 3);
      assert.deepEqual(
        operations.map((op) => `${op.operation}/${op.status}/${op.details.status}`),
        [
          'PRODUCE/PENDING/CARD_PROD_REQUESTED',
          'UPDATE_ORDER/SUCCESSFUL/CARD_PROD_CANCELED',
          'PRODUCE/FAILED/CARD_PROD_CANCELED',
        ],
      );
      assert.equal(operations[1]?.operationId, answer.json.operationId);
    });
  });

  it('notifies every step up to a CARD_PROD_EXCEPTION failure', async () => {
    const faults = { outcomes: [{ at: 'CARD_PROD_EXCEPTION', errorCode: 'PERSONALIZATION_FAILED' }] };
    await withWebhook({ D1_SIM_FAULTS: JSON.stringify(faults) }, async (sim, receiver) => {
      await sim.order('card-failed');
      const operations = await receivedAtLeast(receiver, 5);
      assert.deepEqual(statuses(operations), [...LIFECYCLE.slice(0, 4), 'CARD_PROD_EXCEPTION']);
      assert.equal(operations[4]?.status, 'FAILED');
      assert.equal(operations[4]?.errorCode, 'PERSONALIZATION_FAILED');
    });
  });

  it('notifies the shipmentUpdates after CARD_SHIPPED, then CARD_RETURNED for a returnCardIds card', async () => {
    const faults = { shipmentUpdates: ['IN_TRANSIT', 'DELIVERED'], returnCardIds: ['card-returned'] };
    await withWebhook({ D1_SIM_FAULTS: JSON.stringify(faults) }, async (sim, receiver) => {
      const { operationId } = (await sim.order('card-returned')).json;
      const operations = await receivedAtLeast(receiver, 9);
      assert.deepEqual(statuses(operations), [...LIFECYCLE, 'CARD_SHIPPED', 'CARD_SHIPPED', 'CARD_RETURNED']);
      const afterShipment = operations.slice(5);
      assert.deepEqual(
        afterShipment.map((op) => op.details.shipment?.status),
        ['PICKED_UP', 'IN_TRANSIT', 'DELIVERED', 'RETURNED_TO_SENDER'],
      );
      assert.ok(operations.every((op) => op.operationId === operationId));
      assert.ok(afterShipment.every((op) => op.status === 'SUCCESSFUL' && op.endTime === afterShipment[0]?.endTime));
    });
  });
});
