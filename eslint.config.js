// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((name) => !name.startsWith('_'));

/** What no code of Temporal's workflow sandbox may import. */
const sandboxPaths = [
  ...nodeBuiltins
    .flatMap((name) => [name, `node:${name}`])
    .map((name) => ({
      name,
      message: 'Node builtins are not available in the workflow sandbox; do I/O in an activity.',
    })),
  { name: 'undici', message: 'HTTP belongs in activities, never in workflow code.' },
  { name: 'jose', message: 'Cryptography belongs in activities or the client, never in workflow code.' },
  { name: 'zod', message: 'zod schemas bloat the workflow sandbox cache; validate at the boundaries.' },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself tracks.
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after'] },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no I/O, no Node APIs, and activities only as types.
    files: ['workflows/**/*.ts', 'test/fixtures/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: sandboxPaths,
          patterns: [
            {
              group: ['**/activities', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows may import activities only as types (import type), through proxyActivities.',
            },
          ],
        },
      ],
    },
  },
  {
    // The pure rules: what the workflows decide, driven by tests without Temporal. They run in the sandbox too, and
    // take nothing of the SDK but the message definitions, and of the zod schemas only their types.
    files: ['rules/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...sandboxPaths,
            {
              name: '@temporalio/workflow',
              allowImportNames: ['defineSignal', 'defineQuery', 'defineUpdate'],
              message: 'Rules are pure: timers, activities and versioning belong to the workflow shell.',
            },
          ],
          patterns: [
            {
              group: ['**/activities', '**/activities/**', '**/workflows/**', '**/temporal/**', '**/config/**'],
              message: 'Rules stand below the workflows, activities and the Temporal client: they import none of them.',
            },
            {
              group: ['**/d1/**', '**/orders/**', '!**/orders/reorder-id.js', '!**/orders/workflow-id.js'],
              allowTypeImports: true,
              message: 'Rules take the zod schemas as types only (import type): zod stays out of the sandbox.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  prettier,
);
