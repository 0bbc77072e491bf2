/**
 * How a process's entry point runs: a TypeScript source (`workers/main.ts`) through tsx, as `npm start`, the tests
 * and development run them; its JavaScript from the production build (`dist/workers/main.js`, `npm run build`) with
 * plain node, as `npm run stack`, compose and the image run them.
 *
 * @module
 */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../config/config.js';

/** The compiled form of a source entry point: `workers/main.ts` is `<root>/dist/workers/main.js`. */
export function compiledEntry(entry: string): string {
  return path.join(projectRoot, 'dist', entry.replace(/\.ts$/, '.js'));
}

/** node's arguments to run `file`: through tsx when it is TypeScript, else as it is. */
export function nodeArgs(file: string): string[] {
  return file.endsWith('.ts') ? ['--import', 'tsx', file] : [file];
}

/** @throws {Error} naming the first entry point the production build lacks, and how to make it. */
export async function assertBuilt(entries: readonly string[]): Promise<void> {
  for (const entry of entries) {
    const file = compiledEntry(entry);
    try {
      await access(file);
    } catch {
      throw new Error(
        `${path.relative(projectRoot, file)} is missing: run npm run build first (npm run stack does it itself)`,
      );
    }
  }
}
