import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

const projectRoot = path.resolve(import.meta.dirname, '../..');

/** The repository's top-level folders that git tracks, without dot-folders. */
function trackedTopLevelFolders(): string[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: projectRoot, encoding: 'utf8' }).split('\0');
  const folders = new Set(files.filter((file) => file.includes('/')).map((file) => file.slice(0, file.indexOf('/'))));
  return [...folders].filter((folder) => !folder.startsWith('.') && folder !== 'node_modules').sort();
}

/** The folders the README's "Layout" section names, one table row each: `| \`folder/\` | its job |`. */
async function layoutFolders(): Promise<string[]> {
  const readme = await readFile(path.join(projectRoot, 'README.md'), 'utf8');
  const section = /^## Layout\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme)?.[1];
  assert.ok(section, 'README.md has no "## Layout" section');
  return [...section.matchAll(/^\|\s*`([^`/]+)\/`\s*\|/gm)].map((match) => match[1] ?? '').sort();
}

describe("the README's layout section", () => {
  it('names every top-level folder of the repository, and no other', async () => {
    const listed = await layoutFolders();
    const tracked = trackedTopLevelFolders();
    assert.deepEqual(
      {
        missingFromReadme: tracked.filter((folder) => !listed.includes(folder)),
        notInRepository: listed.filter((folder) => !tracked.includes(folder)),
      },
      { missingFromReadme: [], notInRepository: [] },
      'the "Layout" section of README.md must have one line per top-level folder of the repository, and no other',
    );
  });

  it('names each folder once', async () => {
    const listed = await layoutFolders();
    assert.deepEqual(
      listed.filter((folder, i) => listed.indexOf(folder) !== i),
      [],
    );
  });
});
