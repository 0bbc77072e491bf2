import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { projectRoot } from '../../config/config.js';

const eslint = new ESLint({ cwd: projectRoot });

/** The rule ids ESLint reports for `code` as if it were the workflow file `workflows/example.ts`. */
async function violations(code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(projectRoot, 'workflows/search-attributes.ts') });
  return (result?.messages ?? []).map((message) => `${message.ruleId}: ${message.message}`);
}

describe('lint rules for workflow code', () => {
  for (const [what, code] of [
    ['a Node builtin', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n"],
    ['a bare Node builtin', "import { createHash } from 'crypto';\nexport const h = createHash;\n"],
    ['undici', "import { request } from 'undici';\nexport const r = request;\n"],
    ['jose', "import { SignJWT } from 'jose';\nexport const s = SignJWT;\n"],
    [
      'a value import of activities',
      "import { createActivities } from '../activities/index.js';\nexport const a = createActivities;\n",
    ],
  ] as const) {
    it(`forbids ${what}`, async () => {
      const found = await violations(code);
      assert.ok(
        found.some((message) => message.startsWith('@typescript-eslint/no-restricted-imports')),
        found.join('\n'),
      );
    });
  }

  it('allows a type-only import of activities', async () => {
    const found = await violations(
      "import type { CardOrderActivities } from '../activities/index.js';\nexport type A = CardOrderActivities;\n",
    );
    assert.deepEqual(
      found.filter((message) => message.includes('no-restricted-imports')),
      [],
    );
  });
});
