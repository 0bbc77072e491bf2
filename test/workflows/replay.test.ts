import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../config/config.js';
import { formatFailure, replayDirectory } from '../../workers/replay-histories.js';
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
    const files = [...histories.values()].flat();
    // The same replay as `npm run replay -- test/histories`, on the test bundle and the test-only key ring.
    const failures: string[] = [];
    const summary = await replayDirectory(historiesDir, {
      codecKeys: { file: path.join(projectRoot, 'test/fixtures/codec-keys.json'), inline: undefined },
      workflowBundle: testWorkflowBundle,
      onResult: ({ file, failure }) => {
        if (failure) failures.push(formatFailure(file, failure));
      },
    });
    assert.equal(summary.replayed, files.length);
    assert.deepEqual(failures, []);
    assert.deepEqual(summary, { replayed: files.length, passed: files.length, failed: 0 });
  });
});
