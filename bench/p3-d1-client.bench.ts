/**
 * P3, the D1 client: card orders per second through our D1 client (the card data encrypted into D1's JWE, the
 * cached access token, the answer checked with zod) against raw undici POSTs of bodies prepared beforehand (JWE
 * made, token fetched) to the same simulator, at the same concurrency over the same number of keep-alive
 * connections, in alternating rounds. The simulator runs in a process of its own, as D1 is remote.
 *
 * @module
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { compactDecrypt, importJWK, type JWK } from 'jose';
import { Pool } from 'undici';
import { toD1OrderRequest } from '../activities/submit-order.js';
import { loadConfig } from '../config/config.js';
import { D1Client } from '../d1/client.js';
import { demoKeyFiles, ensureDemoKeys, loadEncryptionKey } from '../d1/keys.js';
import { encryptSensitiveData } from '../d1/sensitive-data.js';
import type { CardOrder } from '../orders/schema.js';
import { sampleAddress, sampleCard } from '../orders/sample-order.js';
import { nodeCryptoJwe } from './lib/jwe-floor.js';
import { entry, type Benchmark } from './lib/types.js';
import { mapBounded } from '../common/bounded-concurrency.js';
import { spawnSimulator } from './lib/simulator-process.js';
import { perSecond, progress } from './lib/util.js';

export const benchmark: Benchmark = {
  id: 'P3',
  title: 'D1 client against raw undici POSTs',
  async run(context) {
    const { d1Orders, d1Concurrency, quick } = context.options;
    const rounds = quick ? 1 : 2;
    const keysDir = await mkdtemp(path.join(context.workDir, 'keys-p3-'));
    await ensureDemoKeys(keysDir);
    const simulator = await spawnSimulator({
      D1_SIM_ISSUER_JWKS: path.join(keysDir, demoKeyFiles.signingPublicJwks),
      D1_SIM_ENCRYPTION_KEY_FILE: path.join(keysDir, demoKeyFiles.encryptionPrivateJwk),
      D1_SIM_WEBHOOK_URL: 'none',
      D1_SIM_STEP_DELAY: '24h',
    });
    const simulatorUrl = simulator.url;
    const config = loadConfig({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KEYS_DIR: keysDir,
      D1_BASE_URL: simulatorUrl,
      D1_MAX_CONNECTIONS: String(d1Concurrency),
      LOG_LEVEL: 'error',
    });
    const d1 = await D1Client.fromConfig(config.d1);
    const pool = new Pool(simulatorUrl, { connections: d1Concurrency, keepAliveTimeout: 30_000 });
    try {
      const encryptionKey = await loadEncryptionKey(config.d1.encryptionKey);
      const issuerId = config.d1.issuerId;
      let next = 0;
      const newOrder = (): CardOrder & { sensitiveData: typeof sampleCard } => {
        const i = next++;
        return {
          issuerId,
          cardId: `c${context.runId}p3${i}`,
          consumerId: 'cons_42',
          issuerRequestId: `r-${context.runId}-p3-${i}`,
          cardProductId: 'PRD_VISA_DEBIT',
          services: { issuance: 'CREATION', delivery: 'usps-imb', cardCarrier: 'carrier-standard' },
          shipment: { type: 'INDIVIDUAL', deliveryAddress: sampleAddress, individualAddress: sampleAddress },
          encryptedData: '',
          sensitiveData: sampleCard,
        };
      };
      const productionPath = (cardId: string) =>
        `${config.d1.apiPath}/issuers/${issuerId}/physicalCards/${cardId}/operations:production`;

      const ours = async (count: number) => {
        const started = Date.now();
        await mapBounded(
          Array.from({ length: count }, newOrder),
          d1Concurrency,
          async ({ sensitiveData, ...order }) => {
            const encryptedData = await encryptSensitiveData(sensitiveData, encryptionKey);
            await d1.orderCard(
              issuerId,
              order.cardId,
              toD1OrderRequest({ ...order, encryptedData }, order.issuerRequestId),
            );
          },
        );
        return Date.now() - started;
      };
      // Ours with the JWE made beforehand, as the raw arm has it: what the client itself (token cache, zod on the
      // way out and back, error mapping) costs over raw undici, apart from the encryption.
      const oursPreEncrypted = async (count: number) => {
        const prepared = await Promise.all(
          Array.from({ length: count }, newOrder).map(async ({ sensitiveData, ...order }) => ({
            ...order,
            encryptedData: await encryptSensitiveData(sensitiveData, encryptionKey),
          })),
        );
        const started = Date.now();
        await mapBounded(prepared, d1Concurrency, async (order) => {
          await d1.orderCard(issuerId, order.cardId, toD1OrderRequest(order, order.issuerRequestId));
        });
        return Date.now() - started;
      };
      const raw = async (count: number) => {
        // Prepared before the clock starts: the token, every JWE and every body.
        const token = await d1.getToken(issuerId);
        const prepared = await Promise.all(
          Array.from({ length: count }, newOrder).map(async ({ sensitiveData, ...order }) => ({
            path: productionPath(order.cardId),
            body: JSON.stringify(
              toD1OrderRequest(
                { ...order, encryptedData: await encryptSensitiveData(sensitiveData, encryptionKey) },
                order.issuerRequestId,
              ),
            ),
          })),
        );
        const started = Date.now();
        await mapBounded(prepared, d1Concurrency, async ({ path: requestPath, body }) => {
          const response = await pool.request({
            method: 'POST',
            path: requestPath,
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/json',
              accept: 'application/json',
            },
            body,
          });
          await response.body.dump();
          if (response.statusCode >= 300) throw new Error(`raw order answered ${response.statusCode}`);
        });
        return Date.now() - started;
      };

      progress('warming up');
      await ours(Math.min(50, d1Orders));
      await raw(Math.min(50, d1Orders));
      let oursMs = 0;
      let preEncryptedMs = 0;
      let rawMs = 0;
      for (let round = 1; round <= rounds; round += 1) {
        progress(`round ${round}/${rounds}: ${d1Orders} orders through the D1 client`);
        oursMs += await ours(d1Orders);
        progress(`round ${round}/${rounds}: ${d1Orders} raw POSTs`);
        rawMs += await raw(d1Orders);
        progress(`round ${round}/${rounds}: ${d1Orders} orders through the D1 client, JWE made beforehand`);
        preEncryptedMs += await oursPreEncrypted(d1Orders);
      }
      // What the JWE alone costs, one at a time on this process: the part of ours the raw arm did beforehand; and its
      // floor, the same JWE with node:crypto alone (checked to decrypt with jose first), in alternating runs.
      const publicJwk = JSON.parse(
        await readFile(path.join(keysDir, demoKeyFiles.encryptionPublicJwk), 'utf8'),
      ) as JWK & { kid: string };
      const clearText = new TextEncoder().encode(JSON.stringify(sampleCard));
      const privateJwk = JSON.parse(
        await readFile(path.join(keysDir, demoKeyFiles.encryptionPrivateJwk), 'utf8'),
      ) as JWK;
      const opened = await compactDecrypt(nodeCryptoJwe(clearText, publicJwk), await importJWK(privateJwk, 'ECDH-ES'));
      if (Buffer.from(opened.plaintext).toString() !== JSON.stringify(sampleCard)) {
        throw new Error('the node:crypto JWE does not decrypt to the card data');
      }
      const jweCount = Math.min(d1Orders, 500);
      const timePerCard = async (make: () => unknown) => {
        const started = process.hrtime.bigint();
        for (let i = 0; i < jweCount; i += 1) await make();
        return Number(process.hrtime.bigint() - started) / 1e6 / jweCount;
      };
      let jweMs = 0;
      let floorMs = 0;
      for (let round = 0; round < 2; round += 1) {
        jweMs += (await timePerCard(() => encryptSensitiveData(sampleCard, encryptionKey))) / 2;
        floorMs += (await timePerCard(() => nodeCryptoJwe(clearText, publicJwk))) / 2;
      }
      return [
        entry(
          'P3 D1 orders/s',
          'orders/s',
          perSecond(d1Orders * rounds, oursMs),
          perSecond(d1Orders * rounds, rawMs),
          'higher',
          { on: 'ratio', op: '>=', value: 0.9 },
          `${d1Orders} orders per arm and round, ${rounds} alternating round(s), ${d1Concurrency} in flight over ${d1Concurrency} keep-alive connections, simulator in its own process; ours encrypts the card data, uses the cached token and checks the answer; raw sends prepared bodies; one JWE alone costs ${jweMs.toFixed(2)} ms of CPU here; with the JWE made beforehand, ours does ${perSecond(d1Orders * rounds, preEncryptedMs).toFixed(0)} orders/s (ratio ${(rawMs / preEncryptedMs).toFixed(2)} to raw)`,
        ),
        entry(
          'P3 JWE ms/card',
          'ms',
          jweMs,
          floorMs,
          'lower',
          undefined,
          `one card's encryptedData (compact JWE, ECDH-ES P-256, A256GCM), ${jweCount} one after the other, 2 alternating runs: ours with jose (card data checked with zod, key imported once as a CryptoKey, jose's fastest key form here) against the floor, the same JWE with node:crypto alone (one ephemeral key, ECDH, one Concat KDF hash, AES-GCM), checked to decrypt with jose`,
        ),
      ];
    } finally {
      await d1.close();
      await pool.close();
      await simulator.close();
    }
  },
};
