/**
 * A D1 simulator on port 0 with its own demo keys, and the client-side configuration that points at it: what
 * every test that talks to "D1" over real HTTP starts from.
 *
 * @module
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { pino, type Logger } from 'pino';
import { loadConfig, type Config } from '../../config/config.js';
import { demoKeyFiles, ensureDemoKeys } from '../../d1/keys.js';
import { loadSimulatorConfig } from '../../simulator/config.js';
import type { FaultsPatch } from '../../simulator/faults.js';
import { createSimulator, type Simulator } from '../../simulator/server.js';

/** Log lines of every component of a test, kept in memory so tests can prove what never appears in them. */
export class LogCapture {
  readonly lines: string[] = [];
  readonly logger: Logger = pino(
    { level: 'debug' },
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.lines.push(chunk.toString());
        done();
      },
    }),
  );
  text(): string {
    return this.lines.join('');
  }
}

export interface D1Stack {
  simulator: Simulator;
  keysDir: string;
  /** The service's configuration, pointed at the simulator and the stack's keys. */
  config: Config;
  logs: LogCapture;
  /** Sets fault knobs (merged into the current ones). */
  faults(patch: FaultsPatch): Promise<void>;
  /** Every order the simulator received. */
  orders(): Promise<SimulatorOrder[]>;
  close(): Promise<void>;
}

export interface SimulatorOrder {
  cardId: string;
  issuerId: string;
  issuerRequestId: string;
  operationId: string;
  cardProductId: string;
  submissions: number;
  status: string;
  detailsStatus: string;
  /** Pull & change requests the center accepted (CANCEL, ACCELERATE...). */
  updates: string[];
  /** When D1 ended the PRODUCE operation (shipped, failed or cancelled). */
  endTime?: string;
}

/** A temp folder holding a fresh demo key set. */
export async function makeKeysDir(): Promise<string> {
  const dir = await mkdtemp(path.join(process.env.TEST_TMPDIR ?? tmpdir(), 'd1-keys-'));
  await ensureDemoKeys(dir);
  return dir;
}

/** Starts a simulator with fresh keys; `simulatorEnv` and `serviceEnv` add or override settings. */
export async function startD1Stack(
  simulatorEnv: Record<string, string> = {},
  serviceEnv: Record<string, string | undefined> = {},
  keysDir?: string,
): Promise<D1Stack> {
  keysDir ??= await makeKeysDir();
  const logs = new LogCapture();
  const simulator = await createSimulator(
    loadSimulatorConfig({
      D1_SIM_PORT: '0',
      D1_SIM_ISSUER_JWKS: path.join(keysDir, demoKeyFiles.signingPublicJwks),
      D1_SIM_ENCRYPTION_KEY_FILE: path.join(keysDir, demoKeyFiles.encryptionPrivateJwk),
      D1_SIM_WEBHOOK_URL: 'none',
      D1_SIM_STEP_DELAY: '20ms',
      LOG_LEVEL: 'debug',
      ...simulatorEnv,
    }),
    { logger: logs.logger },
  );
  const config = loadConfig({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    D1_BASE_URL: simulator.url,
    KEYS_DIR: keysDir,
    D1_REQUEST_TIMEOUT: '3s',
    ...serviceEnv,
  });
  const control = async (method: 'GET' | 'POST', route: string, body?: unknown) => {
    const response = await request(`${simulator.url}${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${route} answered ${response.statusCode}: ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  };
  return {
    simulator,
    keysDir,
    config,
    logs,
    faults: async (patch) => {
      await control('POST', '/__sim/faults', patch);
    },
    orders: async () => (await control('GET', '/__sim/orders')) as SimulatorOrder[],
    close: () => simulator.close(),
  };
}
