/**
 * The run's child processes by name: started, SIGKILLed and started again as the fault plan says, each one's output
 * appended to `<logs>/<name>.log` across restarts. An exit the run did not cause (a worker that gives up while
 * Temporal is down, a crash) is recorded as unexpected and the process is started again, so that one fault does not
 * hide the others.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import path from 'node:path';

/** An exit the run did not ask for. */
export interface UnexpectedExit {
  name: string;
  /** The exit code, or the signal that ended it. */
  how: string;
  /** Seconds since the run started. */
  atS: number;
}

interface Managed {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string | undefined;
  child: ChildProcess;
  /** Set before the run kills or stops it. */
  expectedExit: boolean;
}

/** A process as it was started (each restart is another). */
export interface StartedProcess {
  name: string;
  pid: number | undefined;
  /** The folder it ran in: for a worker, the code it ran. */
  cwd: string | undefined;
}

export class ChaosProcesses {
  readonly #managed = new Map<string, Managed>();
  readonly unexpectedExits: UnexpectedExit[] = [];
  /** Every process the run started, restarts included, oldest first. */
  readonly started: StartedProcess[] = [];
  #stopping = false;

  constructor(
    private readonly logsDir: string,
    private readonly startedAt: number,
  ) {}

  /** The file a process's output goes to. */
  logFile(name: string): string {
    return path.join(this.logsDir, `${name}.log`);
  }

  /** Starts `command` as `name`; restarted by {@link restart} with the same arguments unless given new ones. */
  start(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): ChildProcess {
    if (this.isRunning(name)) throw new Error(`${name} is already running`);
    const log = createWriteStream(this.logFile(name), { flags: 'a' });
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('close', () => log.end());
    const managed: Managed = { command, args, env, cwd, child, expectedExit: false };
    this.#managed.set(name, managed);
    this.started.push({ name, pid: child.pid, cwd });
    child.once('exit', (code, signal) => {
      if (managed.expectedExit || this.#stopping) return;
      this.unexpectedExits.push({
        name,
        how: code === null ? `signal ${signal}` : `code ${code}`,
        atS: Math.round((Date.now() - this.startedAt) / 1000),
      });
      // Started again a second later, as a process manager would (unless the run restarted it meanwhile); the exit
      // stays in the report.
      setTimeout(() => {
        if (this.#managed.get(name) === managed && !this.#stopping) this.restart(name);
      }, 1_000);
    });
    return child;
  }

  /** The PID of `name`'s current process. */
  pid(name: string): number | undefined {
    return this.#managed.get(name)?.child.pid;
  }

  isRunning(name: string): boolean {
    const child = this.#managed.get(name)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** Sends `signal` to `name` and waits for its exit (SIGKILL after `graceMs` for any other signal). */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL', graceMs = 30_000): Promise<void> {
    const managed = this.#get(name);
    managed.expectedExit = true;
    const { child } = managed;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Starts `name` again as it was started, or with `replace`'s command, arguments, environment and folder. */
  restart(name: string, replace: Partial<Pick<Managed, 'command' | 'args' | 'env' | 'cwd'>> = {}): ChildProcess {
    const { command, args, env, cwd } = { ...this.#get(name), ...replace };
    return this.start(name, command, args, env, cwd);
  }

  /** SIGTERM to every process, newest first, then SIGKILL to any still there after `graceMs`. */
  async stopAll(graceMs = 20_000): Promise<void> {
    this.#stopping = true;
    for (const name of [...this.#managed.keys()].reverse()) await this.kill(name, 'SIGTERM', graceMs);
  }

  #get(name: string): Managed {
    const managed = this.#managed.get(name);
    if (!managed) throw new Error(`no process named ${name} was started`);
    return managed;
  }
}
