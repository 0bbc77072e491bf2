/**
 * `npm run codec-server`: the codec server for Temporal Web UI and the CLI, until SIGINT or SIGTERM.
 *
 * @module
 */
import { loadConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { loadCodecKeyRing } from './data-converter.js';
import { AesGcmPayloadCodec } from './payload-codec.js';
import { createCodecServer } from './server.js';

const config = loadConfig();
const logger = createLogger(config, 'codec-server');
const codec = new AesGcmPayloadCodec(await loadCodecKeyRing(config.payloadCodec));
const server = await createCodecServer(config, { codec, logger });
logger.info({ url: server.url, allowedOrigins: config.codecServer.allowedOrigins }, 'codec server listening');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void server.close().finally(() => logger.info('codec server stopped')));
}
