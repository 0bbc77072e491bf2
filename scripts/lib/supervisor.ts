/**
 * Runs the processes of the local stack as children: each one's output appended to its own log file, the terminal
 * told only when one logs an error or exits, stopped in reverse start order on Ctrl-C, and everything stopped if one
 * of them dies.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfig, projectRoot, type Config } from '../../config/config.js';

interface Supervised {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

/** Where the supervisor's own lines go. */
export interface Terminal {
  write(text: string): unknown;
}

export interface SupervisorOptions {
  /** The log directory, and whether the raw output also goes to the terminal. @default this process's config */
  logs?: Config['logs'];
  /** @default process.stderr */
  terminal?: Terminal;
}

/** Pino's numeric level of `error`; `fatal` is 60. */
const pinoErrorLevel = 50;
/** Level names of other loggers (zap and slog in the Temporal server) that mean an error or worse. */
const errorLevelName = /^(error|dpanic|panic|fatal)$/i;
/** A text line that reports an error: a logfmt `level=ERROR` (the Temporal CLI), or an uncaught error's head. */
const errorTextLine = /\blevel=(error|dpanic|panic|fatal)\b|^(Uncaught )?[A-Za-z]*Error( \[\w+\])?: /i;
/** The longest error message the terminal shows; the log file has all of it. */
const maxShownLength = 200;
/** Distinct error messages remembered per child, so a repeating one is shown once; past this many, all show. */
const maxDistinctErrorsShown = 1_000;

/** What a line says went wrong, or undefined when it does not report an error. */
function errorIn(line: string): string | undefined {
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as { level?: unknown; msg?: unknown };
      const isError =
        typeof entry.level === 'number'
          ? entry.level >= pinoErrorLevel
          : typeof entry.level === 'string' && errorLevelName.test(entry.level);
      if (!isError) return undefined;
      return typeof entry.msg === 'string' ? entry.msg : line;
    } catch {
      // Not JSON after all: judged as text.
    }
  }
  return errorTextLine.test(line) ? line : undefined;
}

/** A path as the terminal shows it: relative to the repository when inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(projectRoot, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

export class Supervisor {
  readonly #children: Supervised[] = [];
  readonly #logs: Config['logs'];
  readonly #terminal: Terminal;
  #stopping: Promise<void> | undefined;
  #fail!: (error: Error) => void;
  /**
   * Rejects when a child exits before `stop()`: race the stack's start-up against it, so that a start-up step
   * waiting on a dead child (a server that will never answer) ends at once.
   */
  readonly failed = new Promise<never>((_, reject) => (this.#fail = reject));

  constructor(
    private readonly stopTimeoutMs = 45_000,
    options: SupervisorOptions = {},
  ) {
    this.#logs = options.logs ?? loadConfig().logs;
    this.#terminal = options.terminal ?? process.stderr;
    this.failed.catch(() => {}); // observed by whoever races it; never an unhandled rejection
    // Children run in their own process groups (so Ctrl-C reaches only us and we stop them in order); if this
    // process dies anyway, take them down with it.
    process.once('exit', () => {
      for (const { child } of this.#children) if (child.exitCode === null) child.kill('SIGKILL');
    });
  }

  /** The file a child's output is appended to. */
  logFile(name: string): string {
    return path.join(this.#logs.dir, `${name}.log`);
  }

  /**
   * Starts `command` as a supervised child, its stdout and stderr appended line by line to `logFile(name)`; its exit
   * before `stop()` stops the whole stack with an error.
   */
  spawn(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    if (this.#stopping) throw new Error(`not starting ${name}: the stack is stopping`);
    const say = (text: string) => this.#terminal.write(`[${name}] ${text}\n`);
    const logFile = this.logFile(name);
    mkdirSync(this.#logs.dir, { recursive: true });
    // Written synchronously, so the lines before a crash or a process.exit() are on disk.
    const log = openSync(logFile, 'a');
    const shownErrors = new Set<string>();
    const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        writeSync(log, `${line}\n`);
        if (this.#logs.toTerminal) {
          say(line);
          return;
        }
        const error = errorIn(line);
        // Errors while stopping (connections dropping) and repeats of one already shown stay in the log file.
        if (error === undefined || this.#stopping || shownErrors.has(error)) return;
        if (shownErrors.size < maxDistinctErrorsShown) shownErrors.add(error);
        const shown = error.length > maxShownLength ? `${error.slice(0, maxShownLength)}…` : error;
        say(`error: ${shown} (log: ${displayPath(logFile)})`);
      });
    }
    // Every line has been read once the child's streams close.
    child.once('close', () => closeSync(log));
    const exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        const how = `${code === null ? `signal ${signal}` : `code ${code}`}; log: ${displayPath(logFile)}`;
        if (this.#stopping) {
          say(`stopped (${how})`);
        } else {
          say(`exited unexpectedly (${how}); stopping everything`);
          process.exitCode = 1;
          this.#fail(new Error(`${name} exited unexpectedly (${how})`));
          void this.stop();
        }
        resolve();
      }),
    );
    child.once('error', (err) => say(`failed to start: ${err.message}`));
    this.#children.push({ name, child, exited });
    return child;
  }

  /** Stops the children in reverse start order: SIGTERM, then SIGKILL after the timeout. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const { name, child, exited } of [...this.#children].reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        child.kill('SIGTERM');
        const timer = setTimeout(() => {
          this.#terminal.write(`[${name}] did not stop within ${this.stopTimeoutMs} ms; killing it\n`);
          child.kill('SIGKILL');
        }, this.stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
    })();
    return this.#stopping;
  }

  /** Stops everything on SIGINT or SIGTERM, then exits; a second signal kills what is left at once. */
  stopOnSignals(onStop: () => void = () => {}): void {
    let signalled = false;
    const handle = () => {
      if (signalled) {
        for (const { child } of this.#children) if (child.exitCode === null) child.kill('SIGKILL');
        process.exit(1);
      }
      signalled = true;
      onStop();
      void this.stop().then(() => process.exit());
    };
    process.on('SIGINT', handle);
    process.on('SIGTERM', handle);
  }
}

/**
 * Runs a stack's `main` under a new Supervisor: Ctrl-C stops everything in order; an error, or a child's exit
 * during start-up, stops everything and exits 1 with the message.
 */
export function superviseMain(main: (supervisor: Supervisor) => Promise<void>): void {
  const say = (message: string) => process.stderr.write(`${message}\n`);
  const supervisor = new Supervisor();
  supervisor.stopOnSignals(() => say('Stopping...'));
  Promise.race([main(supervisor), supervisor.failed]).catch(async (err: Error) => {
    say(err.message);
    await supervisor.stop();
    process.exit(1);
  });
}
