import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { projectRoot } from '../../config/config.js';

const eslint = new ESLint({ cwd: projectRoot });

/** The rule ids ESLint reports for `code` as if it were the file `file` (a workflow file by default). */
async function violations(code: string, file = 'workflows/workflow-clock.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(projectRoot, file) });
  return (result?.messages ?? []).map((message) => `${message.ruleId}: ${message.message}`);
}

const restricted = (found: string[]) =>
  found.filter((message) => message.startsWith('@typescript-eslint/no-restricted-imports'));

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

describe('lint rules for the pure rules', () => {
  const rule = 'rules/card-order/poll-schedule.ts';
  for (const [what, code] of [
    ['a Node builtin', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n"],
    ['zod', "import { z } from 'zod';\nexport const s = z.string();\n"],
    ['a timer of the SDK', "import { sleep } from '@temporalio/workflow';\nexport const s = sleep;\n"],
    [
      'a type of the activities',
      "import type { CardOrderActivities } from '../../activities/index.js';\nexport type A = CardOrderActivities;\n",
    ],
    [
      'a workflow shell',
      "import { cardOrderV2 } from '../../workflows/card-order/card-order-v2.js';\nexport const w = cardOrderV2;\n",
    ],
    [
      'a value of the D1 schemas',
      "import { operationSchema } from '../../d1/report-schemas.js';\nexport const o = operationSchema;\n",
    ],
  ] as const) {
    it(`forbids ${what}`, async () => {
      assert.notDeepEqual(restricted(await violations(code, rule)), []);
    });
  }

  it('allows the message definitions, the schemas as types and the pure id rules', async () => {
    const code = [
      "import { defineSignal } from '@temporalio/workflow';",
      "import type { Operation } from '../../d1/report-schemas.js';",
      "import { reorderRequestId } from '../../orders/reorder-id.js';",
      'export const s = defineSignal<[Operation]>("s");',
      'export const r = reorderRequestId;',
      '',
    ].join('\n');
    assert.deepEqual(restricted(await violations(code, rule)), []);
  });
});
