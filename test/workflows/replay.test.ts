import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';
import { failureConverterPath, loadCodecKeyRing } from '../../codec/data-converter.js';
import { AesGcmPayloadCodec } from '../../codec/payload-codec.js';
import { projectRoot } from '../../common/config.js';
import { historiesDir } from '../helpers/saga-stack.js';
import { testWorkflowBundle } from '../helpers/temporal.js';

/** Every recorded history, by generation folder (`card-order-v1`, `card-order-v2`, ...). */
async function recordedHistories(): Promise<Map<string, string[]>> {
  const byGeneration = new Map<string, string[]>();
  for (const generation of (await readdir(historiesDir, { withFileTypes: true })).filter((e) => e.isDirectory())) {
    const dir = path.join(historiesDir, generation.name);
    const files = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
    byGeneration.set(
      generation.name,
      files.map((file) => path.join(dir, file)),
    );
  }
  return byGeneration;
}

describe('replay of recorded card order histories', () => {
  it('replays every history of every workflow generation with the current bundle, without a determinism error', async () => {
    const histories = await recordedHistories();
    assert.ok((histories.get('card-order-v1')?.length ?? 0) >= 8, 'the first generation histories are kept');
    assert.ok((histories.get('card-order-v2')?.length ?? 0) >= 8, 'the current generation histories are recorded');
    const codec = new AesGcmPayloadCodec(
      await loadCodecKeyRing({ file: path.join(projectRoot, 'test/fixtures/codec-keys.json'), inline: undefined }),
    );
    const files = [...histories.values()].flat();
    async function* load() {
      for (const file of files) {
        const history = historyFromJSON(JSON.parse(await readFile(file, 'utf8')));
        yield { workflowId: path.relative(historiesDir, file), history };
      }
    }
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: await testWorkflowBundle(), dataConverter: { payloadCodecs: [codec], failureConverterPath } },
      load(),
    )) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
