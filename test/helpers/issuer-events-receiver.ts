/**
 * The issuer's event endpoint in tests: verifies each event's JWS against the event-signing JWKS and keeps them.
 *
 * @module
 */
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, flattenedVerify, type FlattenedJWS, type JSONWebKeySet } from 'jose';
import type { IssuerEvent } from '../../activities/index.js';

export interface IssuerEventsReceiver {
  url: string;
  /** Verified events, in arrival order. */
  events: IssuerEvent[];
  /** While down, every post is answered 503 and counted in `refused`, as an issuer endpoint in an outage. */
  setDown(down: boolean): void;
  refused: number;
  close(): Promise<void>;
}

/** Starts the receiver on port 0; events whose signature does not verify are answered 400 and not kept. */
export async function startIssuerEventsReceiver(jwksFile: string): Promise<IssuerEventsReceiver> {
  const keys = createLocalJWKSet(JSON.parse(await readFile(jwksFile, 'utf8')) as JSONWebKeySet);
  const events: IssuerEvent[] = [];
  let down = false;
  const receiver = { refused: 0 };
  const server = createServer((request, response) => {
    if (down) {
      receiver.refused += 1;
      request.resume();
      response.writeHead(503).end();
      return;
    }
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const jws = JSON.parse(Buffer.concat(chunks).toString()) as FlattenedJWS;
      const { payload } = await flattenedVerify(jws, keys);
      events.push(JSON.parse(new TextDecoder().decode(payload)) as IssuerEvent);
      response.writeHead(204).end();
    })().catch(() => response.writeHead(400).end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/events`,
    events,
    setDown(value: boolean) {
      down = value;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
