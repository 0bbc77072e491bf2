/**
 * Child processes a test starts, kills and starts again by name, as an operator would. Unlike the Supervisor, a
 * child's death stops nothing else: surviving it is what such tests check. Output goes to `<logsDir>/<name>.log`.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import path from 'node:path';

interface Started {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  child: ChildProcess;
}

export class TestProcesses {
  readonly #started = new Map<string, Started>();

  constructor(private readonly logsDir: string) {}

  spawn(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const log = createWriteStream(path.join(this.logsDir, `${name}.log`), { flags: 'a' });
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
    this.#started.set(name, { command, args, env, child });
    return child;
  }

  /** Sends `signal` to the named child and waits for it to exit. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const { child } = this.#get(name);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** Starts the named child again, as it was started first. */
  restart(name: string): ChildProcess {
    const { command, args, env } = this.#get(name);
    return this.spawn(name, command, args, env);
  }

  /** SIGTERM to every child still running, newest first, then SIGKILL to any still there after `graceMs`. */
  async stopAll(graceMs = 20_000): Promise<void> {
    for (const { child } of [...this.#started.values()].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
  }

  #get(name: string): Started {
    const started = this.#started.get(name);
    if (!started) throw new Error(`no process named ${name} was started`);
    return started;
  }
}
