/**
 * `npm run bench` still runs: the runner at tiny sizes, on the test run's Temporal server, produces every named
 * entry with numeric fields. It asserts nothing about speed (benchmarks never do in tests).
 *
 * @module
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { projectRoot } from '../../config/config.js';

const run = promisify(execFile);

const names = [
  'P1 orders/s',
  'P1 events/order',
  'P1 p99 s',
  'P2 notifications/s',
  'P3 D1 orders/s',
  'P3 JWE ms/card',
  'P4 worker RSS MB',
  'P4 resume s',
  'P4 delivery window events/order',
  'P5 worker start s',
  'P6 events/order',
  'P6 actions/order',
  'P6 D1 calls/order',
  'P6 D1 calls/order, notifications lost',
  'P6 D1 calls/order, D1 outage',
];

describe('npm run bench', () => {
  it('produces every named entry with numeric fields at tiny sizes', { timeout: 420_000 }, async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'bench-smoke-'));
    const json = path.join(dir, 'bench.json');
    const address = process.env.TEMPORAL_TEST_ADDRESS;
    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(projectRoot, 'bench/index.ts'),
        '--quick',
        ...['--json', json],
        ...(address ? ['--temporal-address', address] : []),
        ...['--orders', '4', '--webhook-orders', '4', '--notifications', '16', '--d1-orders', '20'],
        ...['--open-orders', '10', '--starts', '1'],
      ],
      { cwd: projectRoot, maxBuffer: 16 * 1024 * 1024 },
    );
    const entries = JSON.parse(await readFile(json, 'utf8')) as Record<string, unknown>[];
    assert.deepEqual(
      entries.map((e) => e.name),
      names,
    );
    for (const e of entries) {
      // P6 counts actions on the server's metrics endpoint, which a server given by address may not name.
      if (address && e.name === 'P6 actions/order' && /actions not counted/.test(String(e.detail))) continue;
      for (const field of ['ours', 'baseline', 'ratio']) {
        assert.equal(typeof e[field], 'number', `${String(e.name)}.${field}`);
        assert.ok(Number.isFinite(e[field]), `${String(e.name)}.${field} is ${String(e[field])}`);
      }
      assert.equal(typeof e.unit, 'string');
      assert.match(String(e.detail), /^(higher|lower) is better/);
    }
  });
});
