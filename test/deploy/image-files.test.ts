/**
 * The image holds what its processes read: the final stage of the Dockerfile is assembled into a folder as the image
 * would hold it (`COPY --from=build /app/dist` from a production build this file runs once, the production
 * `node_modules` a link to the repository's, every other `COPY` from the repository, its `ENV` settings), and the
 * worker (the image's CMD), the webhook (compose's command) and the CLI (`bin/`) run from that folder alone against
 * the test's Temporal: the CLI places an example order, the worker takes it on its prebuilt bundle and answers the
 * CLI's status query. A folder the compiled processes need but the image lacks fails here, not in production.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { parse } from 'yaml';
import { loadConfig, projectRoot } from '../../config/config.js';
import { waitForPoller } from '../../scripts/lib/pollers.js';
import { makeKeysDir } from '../helpers/d1-stack.js';
import { freePort } from '../helpers/ports.js';
import { eventually, testEnvironment, uniqueName } from '../helpers/temporal.js';

const run = promisify(execFile);

interface FinalStage {
  copies: { from: string | undefined; sources: string[]; dest: string }[];
  env: Record<string, string>;
  cmd: string[];
}

/** The final stage's COPY, ENV and CMD instructions (after the last FROM; WORKDIR /app). */
function finalStage(dockerfile: string): FinalStage {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim());
  const stage = lines.slice(lines.findLastIndex((line) => /^FROM /i.test(line)) + 1);
  const result: FinalStage = { copies: [], env: {}, cmd: [] };
  for (const line of stage) {
    const [instruction = '', ...args] = line.split(/\s+/);
    switch (instruction.toUpperCase()) {
      case 'WORKDIR':
        assert.equal(args[0], '/app', 'the test assembles the image for WORKDIR /app');
        break;
      case 'COPY': {
        const from = args.find((arg) => arg.startsWith('--from='))?.slice('--from='.length);
        const paths = args.filter((arg) => !arg.startsWith('--'));
        const dest = paths.pop();
        assert.ok(dest && paths.length > 0, line);
        result.copies.push({ from, sources: paths, dest });
        break;
      }
      case 'ENV':
        for (const pair of args) {
          const [key = '', ...value] = pair.split('=');
          result.env[key] = value.join('=');
        }
        break;
      case 'CMD':
        result.cmd = JSON.parse(line.slice('CMD'.length)) as string[];
        break;
    }
  }
  return result;
}

/** Lays the final stage out in `image` (the image's /app): `buildRoot` stands for the build stage's /app. */
async function assemble(stage: FinalStage, image: string, buildRoot: string): Promise<void> {
  for (const { from, sources, dest } of stage.copies) {
    const target = path.resolve(image, dest.replace(/^\/app\/?/, './'));
    const intoFolder = dest.endsWith('/') || sources.length > 1;
    for (const source of sources) {
      const to = intoFolder ? path.join(target, path.basename(source)) : target;
      await mkdir(path.dirname(to), { recursive: true });
      if (from === 'dependencies') {
        assert.equal(source, '/app/node_modules', 'the dependencies stage gives node_modules only');
        // The production dependencies are a subset of the repository's, which stand in for them.
        await symlink(await realpath(path.join(projectRoot, 'node_modules')), to, 'dir');
      } else if (from === 'build') {
        await cp(path.join(buildRoot, source.replace(/^\/app\/?/, '')), to, { recursive: true });
      } else {
        assert.equal(from, undefined, `a COPY from stage ${from} the test does not know`);
        await cp(path.join(projectRoot, source), to, { recursive: true });
      }
    }
  }
}

/** A process started from the image folder, its output collected. */
function start(image: string, args: readonly string[], env: NodeJS.ProcessEnv) {
  const child = spawn(args[0] === 'node' ? process.execPath : args[0]!, args.slice(1), {
    cwd: image,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

describe('the image (Dockerfile) holds what its compiled processes read', () => {
  let dir: string;
  let image: string;
  let stage: FinalStage;
  let env: NodeJS.ProcessEnv;
  let teardown: () => Promise<void> = async () => {};
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'image-'));
    image = path.join(dir, 'app');
    const buildRoot = path.join(dir, 'build');
    // The build stage's `npm run build`, into a folder of this file's own (the repository's dist/ stays as it is).
    await run(
      process.execPath,
      ['--import', 'tsx', path.join(projectRoot, 'scripts/build.ts'), path.join(buildRoot, 'dist')],
      {
        cwd: projectRoot,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
      },
    );
    stage = finalStage(await readFile(path.join(projectRoot, 'Dockerfile'), 'utf8'));
    await assemble(stage, image, buildRoot);
    const temporal = await testEnvironment();
    teardown = () => temporal.teardown();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...stage.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_TASK_QUEUE: uniqueName('image'),
      KEYS_DIR: await makeKeysDir(),
      // No D1 here: orders wait at their first call, which is all this file needs of them.
      D1_BASE_URL: `http://127.0.0.1:${await freePort()}`,
      WORKER_METRICS_PORT: '0',
      WEBHOOK_METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    };
  });

  after(async () => {
    for (const child of children.reverse()) await stop(child);
    await teardown();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds no TypeScript source, and runs nothing through tsx', async () => {
    const sources: string[] = [];
    for (const top of await readdir(image, { withFileTypes: true })) {
      if (top.name === 'node_modules') continue;
      const files = top.isDirectory()
        ? (await readdir(path.join(image, top.name), { recursive: true })).map((file) => path.join(top.name, file))
        : [top.name];
      sources.push(...files.filter((file) => file.endsWith('.ts')));
    }
    assert.deepEqual(sources, []);
    assert.equal(stage.cmd[0], 'node');
    assert.ok(!stage.cmd.includes('tsx'), stage.cmd.join(' '));
  });

  it("starts the worker (the image's CMD) on the prebuilt bundle, the webhook (compose's command) and the CLI", async () => {
    const worker = start(image, stage.cmd, env);
    children.push(worker.child);
    const config = loadConfig(env);
    const exited = once(worker.child, 'exit').then(() => {
      throw new Error('the worker exited');
    });
    await Promise.race([waitForPoller(config, 90_000), exited]).catch((err: Error) => {
      throw new Error(`${err.message}\nthe worker's output:\n${worker.output()}`);
    });
    exited.catch(() => {}); // a later exit is the teardown's
    assert.doesNotMatch(worker.output(), /bundling from source/);

    const compose = parse(await readFile(path.join(projectRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
      services: Record<string, { command: string[] }>;
    };
    const port = await freePort();
    const webhook = start(image, compose.services['webhook-1']!.command, {
      ...env,
      WEBHOOK_HOST: '127.0.0.1',
      WEBHOOK_PORT: String(port),
      WEBHOOK_CLIENTS: JSON.stringify([
        { clientId: 'image-test', clientSecret: 'an-image-test-secret-of-length', issuerIds: ['ISSUER0001'] },
      ]),
    });
    children.push(webhook.child);
    await eventually(
      async () => {
        if (webhook.child.exitCode !== null) throw new Error(`the webhook exited:\n${webhook.output()}`);
        const ready = await request(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        await ready?.body.dump();
        return ready?.statusCode === 200 || undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the webhook to be ready' },
    );

    // The CLI, as `docker compose run --rm worker npx card-orders ...` runs it: an example order from the image's
    // examples/, under ids of this run's own.
    const id = `image-${randomBytes(6).toString('hex')}`;
    const example = JSON.parse(await readFile(path.join(image, 'examples/order-individual.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const orderFile = path.join(dir, 'order.json');
    await writeFile(orderFile, JSON.stringify({ ...example, issuerRequestId: id, cardId: `crd-${id}` }));
    const cli = (...args: string[]) =>
      run(process.execPath, [path.join(image, 'bin/card-orders.js'), ...args], { cwd: image, env });
    const placed = await cli('order', '--file', orderFile);
    assert.match(placed.stdout, new RegExp(id));
    // The status is the worker's answer to a query: the image's workflow bundle runs the order.
    const status = await cli('status', id);
    assert.match(status.stdout, new RegExp(`${id} card=crd-${id} status=`));
  });
});
