import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/config.js';
import { TemporalCliNotFoundError } from '../../common/errors.js';
import { cachedCliPath, resolveTemporalCli, TEMPORAL_CLI_VERSION } from '../../scripts/temporal-cli.js';

const noDownload = () => Promise.reject(new Error('offline'));

async function sandbox() {
  const root = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'cli-'));
  const bin = path.join(root, 'bin');
  await mkdir(bin);
  return { root, bin, cache: path.join(root, 'cache') };
}

async function writeExecutable(file: string, script: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
}

describe('resolveTemporalCli', () => {
  it('prefers TEMPORAL_CLI_PATH over PATH and the cache', async () => {
    const { root, bin, cache } = await sandbox();
    const explicit = path.join(root, 'explicit-temporal');
    await writeExecutable(explicit, 'exit 0');
    await writeExecutable(path.join(bin, 'temporal'), 'exit 0');
    const config = loadConfig({ TEMPORAL_CLI_PATH: explicit, PATH: bin, XDG_CACHE_HOME: cache });
    assert.equal(await resolveTemporalCli(config), explicit);
  });

  it('refuses a TEMPORAL_CLI_PATH that is not an executable, rather than silently using another', async () => {
    const { root } = await sandbox();
    const config = loadConfig({ TEMPORAL_CLI_PATH: path.join(root, 'missing') });
    await assert.rejects(resolveTemporalCli(config), TemporalCliNotFoundError);
  });

  it('takes temporal from PATH before the cache', async () => {
    const { bin, cache } = await sandbox();
    await writeExecutable(path.join(bin, 'temporal'), 'exit 0');
    const config = loadConfig({ PATH: bin, XDG_CACHE_HOME: cache });
    await writeExecutable(cachedCliPath(config), 'exit 0');
    assert.equal(await resolveTemporalCli(config), path.join(bin, 'temporal'));
  });

  it('uses the per-user cache, versioned by CLI release', async () => {
    const { bin, cache } = await sandbox();
    const config = loadConfig({ PATH: bin, XDG_CACHE_HOME: cache });
    await writeExecutable(cachedCliPath(config), 'exit 0');
    assert.equal(
      await resolveTemporalCli(config, undefined, { download: noDownload }),
      path.join(cache, 'd1-card-orders', `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal'),
    );
  });

  it('builds with go install into the cache, and two concurrent builds leave one whole binary', async () => {
    const { bin, cache } = await sandbox();
    // A stand-in for `go`: records its arguments and writes the binary slowly, byte by byte, into $GOBIN.
    await writeExecutable(
      path.join(bin, 'go'),
      [
        'echo "$@" >> "$GOBIN/../go-calls"',
        'printf "#!/bin/sh\\n" > "$GOBIN/temporal"',
        'for i in 1 2 3 4 5; do printf "echo part$i\\n" >> "$GOBIN/temporal"; sleep 0.05; done',
        'chmod +x "$GOBIN/temporal"',
      ].join('\n'),
    );
    const config = loadConfig({ PATH: bin, XDG_CACHE_HOME: cache });
    const messages: string[] = [];
    const [a, b] = await Promise.all([
      resolveTemporalCli(config, (m) => messages.push(m), { download: noDownload }),
      resolveTemporalCli(config, (m) => messages.push(m), { download: noDownload }),
    ]);
    assert.equal(a, cachedCliPath(config));
    assert.equal(b, cachedCliPath(config));
    const binary = await readFile(cachedCliPath(config), 'utf8');
    assert.equal(binary, '#!/bin/sh\necho part1\necho part2\necho part3\necho part4\necho part5\n');
    const calls = await readFile(path.join(cache, 'd1-card-orders', 'go-calls'), 'utf8');
    assert.match(calls, new RegExp(`install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`));
    assert.ok(messages.some((m) => /one-time build/.test(m)));
    const leftovers = (await readdir(path.join(cache, 'd1-card-orders'))).filter((name) => name.startsWith('.build-'));
    assert.deepEqual(leftovers, []);
  });

  it('fails with one error naming the three ways to provide the CLI when go and the download both fail', async () => {
    const { bin, cache } = await sandbox();
    await writeExecutable(path.join(bin, 'go'), 'echo "no network" >&2; exit 1');
    const config = loadConfig({ PATH: bin, XDG_CACHE_HOME: cache });
    await assert.rejects(resolveTemporalCli(config, undefined, { download: noDownload }), (err: unknown) => {
      assert.ok(err instanceof TemporalCliNotFoundError);
      assert.equal(err.code, 'ERR_TEMPORAL_CLI_NOT_FOUND');
      assert.match(err.message, /go install failed/);
      assert.match(err.message, /the SDK download failed: offline/);
      assert.match(err.message, /\(1\) TEMPORAL_CLI_PATH=.*\(2\) a `temporal` binary on PATH.*\(3\) Go on PATH/);
      return true;
    });
  });
});
