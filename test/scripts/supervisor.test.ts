import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Supervisor } from '../../scripts/lib/supervisor.js';

/** Our pino lines carry the level's label; pino's default is its number. */
const infoLine = JSON.stringify({ level: 'info', msg: 'worker polling' });
const errorLine = JSON.stringify({ level: 'error', msg: 'D1 refused the token' });
const fatalLine = JSON.stringify({ level: 60, msg: 'invalid configuration' });
/** The Temporal CLI's text log format. */
const cliErrorLine = 'time=2026-11-25T10:48:18.553 level=ERROR msg="can\'t set frontend port 7233"';
const childOutput = [infoLine, errorLine, fatalLine, cliErrorLine];
const childScript = `
  console.log(${JSON.stringify(infoLine)});
  console.error(${JSON.stringify(errorLine)});
  console.error(${JSON.stringify(fatalLine)});
  console.error(${JSON.stringify(cliErrorLine)});
  process.exitCode = 3;
`;

/** Runs the child above under a supervisor logging to `dir`; returns the terminal's lines, in no set order. */
async function superviseChild(dir: string, toTerminal: boolean): Promise<string[]> {
  const terminal: string[] = [];
  const supervisor = new Supervisor(undefined, {
    logs: { dir, toTerminal },
    terminal: { write: (text: string) => terminal.push(...text.split('\n').filter(Boolean)) },
  });
  const child = supervisor.spawn('demo', process.execPath, ['-e', childScript]);
  await once(child, 'close');
  await supervisor.stop();
  // The supervisor flags the child's early exit on this process; here that exit is the point.
  process.exitCode = undefined;
  return terminal.sort();
}

describe('Supervisor', () => {
  it("appends each child's output to its log file and shows only its errors and its exit", async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'supervisor-'));
    const logFile = path.join(dir, 'demo.log');

    const terminal = await superviseChild(dir, false);
    await superviseChild(dir, false);

    assert.deepEqual(
      terminal,
      [
        `[demo] error: D1 refused the token (log: ${logFile})`,
        `[demo] error: invalid configuration (log: ${logFile})`,
        `[demo] error: ${cliErrorLine} (log: ${logFile})`,
        `[demo] exited unexpectedly (code 3; log: ${logFile}); stopping everything`,
      ].sort(),
    );
    const logged = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean);
    assert.deepEqual(logged.sort(), [...childOutput, ...childOutput].sort());
  });

  it('with LOG_TO_TERMINAL, also shows the raw lines, prefixed with the name', async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'supervisor-'));
    const logFile = path.join(dir, 'demo.log');

    const terminal = await superviseChild(dir, true);

    assert.deepEqual(
      terminal,
      [
        ...childOutput.map((line) => `[demo] ${line}`),
        `[demo] exited unexpectedly (code 3; log: ${logFile}); stopping everything`,
      ].sort(),
    );
    assert.deepEqual((await readFile(logFile, 'utf8')).split('\n').filter(Boolean).sort(), [...childOutput].sort());
  });

  it('shows a repeated error once, nothing a child logs while stopping, and fails its start-up race at an early exit', async () => {
    const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'supervisor-'));
    const terminal: string[] = [];
    const supervisor = new Supervisor(undefined, {
      logs: { dir, toTerminal: false },
      terminal: { write: (text: string) => terminal.push(...text.split('\n').filter(Boolean)) },
    });
    // A server that repeats one error, then logs another as it shuts down on SIGTERM.
    const server = supervisor.spawn('server', process.execPath, [
      '-e',
      `console.error(${JSON.stringify(errorLine)}); console.error(${JSON.stringify(errorLine)});
       console.log('ready');
       process.on('SIGTERM', () => { console.error(${JSON.stringify(fatalLine)}); process.exit(0); });
       setInterval(() => {}, 1000);`,
    ]);
    await new Promise<void>((resolve) =>
      server.stdout?.on('data', (chunk: Buffer) => chunk.includes('ready') && resolve()),
    );
    supervisor.spawn('crashing', process.execPath, ['-e', 'process.exit(4)']);
    await assert.rejects(supervisor.failed, /crashing exited unexpectedly \(code 4/);
    await supervisor.stop();
    process.exitCode = undefined;

    assert.equal(terminal.filter((line) => line.includes('D1 refused the token')).length, 1, terminal.join('\n'));
    assert.ok(!terminal.some((line) => line.includes('invalid configuration')), terminal.join('\n'));
    assert.match(await readFile(path.join(dir, 'server.log'), 'utf8'), /invalid configuration/);
    assert.throws(() => supervisor.spawn('late', process.execPath, ['-e', '']), /the stack is stopping/);
  });
});
