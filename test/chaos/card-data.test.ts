import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { findCardData } from '../../chaos/inspect.js';
import { planMix } from '../../chaos/mix.js';
import { SeededRandom } from '../../chaos/random.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');
const payload = (encoding: string, data: string) => ({ metadata: { encoding: b64(encoding) }, data: b64(data) });

describe('chaos card data scan', () => {
  it("finds a PAN or a name in a log line or in a history's unencrypted payload, never in an encrypted one", async () => {
    const mix = planMix(new SeededRandom(1), { total: 20, runId: 'cd', issuerId: 'ISSUER0001', placeWindowS: 1 });
    const [first, second, third] = mix.orders.filter((order) => order.request);
    assert.ok(first && second && third);
    const [pan] = first.secrets;
    const name = second.secrets[1];
    assert.ok(pan && name);
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'chaos-scan-'));
    const files = {
      log: path.join(dir, 'worker-1.log'),
      history: path.join(dir, 'order.json'),
      clean: path.join(dir, 'clean.json'),
    };
    await writeFile(files.log, `{"level":30,"msg":"ordering","pan":"${pan}"}\n`);
    const event = (p: unknown) => ({
      events: [{ workflowExecutionStartedEventAttributes: { input: { payloads: [p] } } }],
    });
    await writeFile(files.history, JSON.stringify(event(payload('json/plain', JSON.stringify({ name })))));
    // An encrypted payload's bytes are not read: ciphertext that happened to hold them is no leak.
    await writeFile(files.clean, JSON.stringify(event(payload('binary/encrypted', `${third.secrets[0]}`))));
    assert.deepEqual(await findCardData(Object.values(files), mix.orders), [
      { file: 'worker-1.log', order: first.issuerRequestId },
      { file: 'order.json', order: second.issuerRequestId },
    ]);
  });
});
