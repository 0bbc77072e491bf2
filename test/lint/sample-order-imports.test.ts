import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../config/config.js';

/** The folders of the service itself; tests, benchmarks, chaos runs and scripts may use the sample order. */
const productionFolders = [
  'activities',
  'campaigns',
  'client',
  'codec',
  'common',
  'config',
  'd1',
  'identity',
  'orders',
  'simulator',
  'webhook',
  'workers',
  'workflows',
];

async function typeScriptFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((entry) => {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) return typeScriptFiles(file);
      return Promise.resolve(entry.name.endsWith('.ts') ? [file] : []);
    }),
  );
  return nested.flat();
}

describe('orders/sample-order.ts', () => {
  it('is imported by no production code', async () => {
    const importers: string[] = [];
    for (const folder of productionFolders) {
      for (const file of await typeScriptFiles(path.join(projectRoot, folder))) {
        if (/sample-order(\.js)?['"]/.test(await readFile(file, 'utf8'))) {
          importers.push(path.relative(projectRoot, file));
        }
      }
    }
    assert.deepEqual(importers, []);
  });
});
