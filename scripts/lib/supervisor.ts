/**
 * Runs the processes of the local stack as children: output prefixed with their name, stopped in reverse start
 * order on Ctrl-C, and everything stopped if one of them dies.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

interface Supervised {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

export class Supervisor {
  readonly #children: Supervised[] = [];
  #stopping: Promise<void> | undefined;

  constructor(private readonly stopTimeoutMs = 45_000) {
    // Children run in their own process groups (so Ctrl-C reaches only us and we stop them in order); if this
    // process dies anyway, take them down with it.
    process.once('exit', () => {
      for (const { child } of this.#children) if (child.exitCode === null) child.kill('SIGKILL');
    });
  }

  /** Starts `command` as a supervised child; its exit before `stop()` stops the whole stack with an error. */
  spawn(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => process.stderr.write(`[${name}] ${line}\n`));
    }
    const exited = once(child, 'exit').then(([code, signal]) => {
      if (!this.#stopping) {
        process.stderr.write(`[${name}] exited unexpectedly (${String(code ?? signal)}); stopping everything\n`);
        process.exitCode = 1;
        void this.stop();
      }
    });
    child.once('error', (err) => process.stderr.write(`[${name}] failed to start: ${err.message}\n`));
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
          process.stderr.write(`[${name}] did not stop within ${this.stopTimeoutMs} ms; killing it\n`);
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
