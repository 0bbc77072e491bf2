import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadWorkflowBundle, workflowSourceHash } from '../../workers/workflow-bundle.js';

describe('prebuilt workflow bundle', () => {
  it('is used when its manifest matches the workflow sources, and rebuilt when it does not', async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'bundle-'));
    const bundlePath = path.join(dir, 'workflow-bundle.js');
    await writeFile(bundlePath, '/* prebuilt */');
    await writeFile(`${bundlePath}.json`, JSON.stringify({ sourceHash: await workflowSourceHash() }));
    const notes: string[] = [];
    assert.deepEqual(await loadWorkflowBundle(bundlePath, (note) => notes.push(note)), { code: '/* prebuilt */' });
    assert.equal(notes.length, 0);

    await writeFile(`${bundlePath}.json`, JSON.stringify({ sourceHash: 'older-sources' }));
    const rebuilt = await loadWorkflowBundle(bundlePath, (note) => notes.push(note));
    assert.match(rebuilt.code, /cardOrder/);
    assert.match(notes[0] ?? '', /older than the workflow sources/);
  });
});
