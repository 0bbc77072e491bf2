import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { projectRoot } from '../../config/config.js';

/** Whether `dir` holds a TypeScript file at any depth. */
async function holdsTypeScript(dir: string): Promise<boolean> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) return true;
    if (entry.isDirectory() && (await holdsTypeScript(path.join(dir, entry.name)))) return true;
  }
  return false;
}

describe('tsconfig.json', () => {
  it('includes every top-level folder with TypeScript in it, so `tsc` checks them all', async () => {
    const tsconfig = JSON.parse(await readFile(path.join(projectRoot, 'tsconfig.json'), 'utf8')) as {
      include: string[];
      exclude: string[];
    };
    const skipped = new Set([...tsconfig.exclude, 'node_modules']);
    const missing: string[] = [];
    for (const entry of await readdir(projectRoot, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || skipped.has(entry.name)) continue;
      if (tsconfig.include.includes(entry.name)) continue;
      if (await holdsTypeScript(path.join(projectRoot, entry.name))) missing.push(entry.name);
    }
    assert.deepEqual(missing, []);
  });
});
