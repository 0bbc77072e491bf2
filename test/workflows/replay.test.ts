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

describe('replay of recorded card order histories', () => {
  it('replays every history recorded from the saga tests without a determinism error', async () => {
    const files = (await readdir(historiesDir)).filter((name) => name.endsWith('.json')).sort();
    assert.ok(files.length >= 8, `expected the recorded histories in ${historiesDir}, found ${files.length}`);
    const codec = new AesGcmPayloadCodec(
      await loadCodecKeyRing({ file: path.join(projectRoot, 'test/fixtures/codec-keys.json'), inline: undefined }),
    );
    const workflowBundle = await testWorkflowBundle();
    for (const file of files) {
      const history = historyFromJSON(JSON.parse(await readFile(path.join(historiesDir, file), 'utf8')));
      await Worker.runReplayHistory(
        { workflowBundle, dataConverter: { payloadCodecs: [codec], failureConverterPath } },
        history,
        file,
      );
    }
  });
});
