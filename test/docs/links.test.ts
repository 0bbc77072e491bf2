import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';

const projectRoot = path.resolve(import.meta.dirname, '../..');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

async function anchorsOf(file: string): Promise<Set<string>> {
  const text = (await readFile(file, 'utf8')).replace(/^```[\s\S]*?^```/gm, '');
  const anchors = new Set<string>();
  for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = anchorOf(heading ?? '');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** README.md and every Markdown page under docs/. */
async function pages(): Promise<string[]> {
  const docs = await readdir(path.join(projectRoot, 'docs'), { recursive: true });
  return [
    path.join(projectRoot, 'README.md'),
    ...docs.filter((file) => file.endsWith('.md')).map((file) => path.join(projectRoot, 'docs', file)),
  ];
}

describe('links in README.md and docs/', () => {
  it('lead to files and headings that exist', async () => {
    const broken: string[] = [];
    for (const page of await pages()) {
      // Links in code blocks and inline code are examples, not links.
      const text = (await readFile(page, 'utf8')).replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [file = '', anchor] = target.split('#', 2);
        const resolved = file ? path.resolve(path.dirname(page), decodeURIComponent(file)) : page;
        const where = `${path.relative(projectRoot, page)}: ${target}`;
        if (!existsSync(resolved)) broken.push(`${where} (no such file)`);
        else if (anchor && resolved.endsWith('.md') && !(await anchorsOf(resolved)).has(anchor))
          broken.push(`${where} (no such heading)`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
