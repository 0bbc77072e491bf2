import { createServer } from 'node:net';
import { PortInUseError } from '../../common/errors.js';

/**
 * Resolves when `port` on `host` can be listened on; rejects with a {@link PortInUseError} naming `envVar`, the
 * setting that moves it, when something else holds it.
 */
export function assertPortFree(host: string, port: number, envVar: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, envVar) : err),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}

/** A run of `count` consecutive free ports below 32768 (the Temporal server's membership ports must be). */
export async function freePortRun(count: number): Promise<number> {
  for (let tries = 0; tries < 50; tries += 1) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - count));
    try {
      for (let port = base; port < base + count; port += 1) await assertPortFree('127.0.0.1', port, 'test');
      return base;
    } catch {
      // taken: try another run
    }
  }
  throw new Error(`no ${count} consecutive free ports below 32768`);
}
